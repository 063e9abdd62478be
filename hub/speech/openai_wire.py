"""The OpenAI audio transcription API (POST /v1/audio/transcriptions), as WhisperX,
faster-whisper-server, vLLM and the State's AI platforms speak it: the form fields in the
official SDK's order, and the `verbose_json` answer read into a segment. Pure: no I/O."""

from __future__ import annotations

import json
from typing import Any

from hub.speech.port import Segment, Word

PATH = "/audio/transcriptions"


def form_fields(*, model: str, language: str) -> list[tuple[str, str]]:
    """The text fields, in the order the SDK sends them; the file part comes last."""
    return [
        ("model", model),
        ("language", language),
        ("response_format", "verbose_json"),
        ("temperature", "0.0"),
        ("timestamp_granularities[]", "word"),
        ("timestamp_granularities[]", "segment"),
    ]


def parse_verbose_json(body: bytes) -> Segment:
    """A final segment from a `verbose_json` answer, timed from the start of the clip; word
    times when the server gave them, else none. ValueError says what is wrong."""
    try:
        answer = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(answer, dict):
        raise ValueError("not a JSON object")
    text = answer.get("text")
    if not isinstance(text, str):
        raise ValueError('no "text" string')
    words = tuple(_word(item, index) for index, item in enumerate(_list(answer, "words")))
    spans = [_span(item, index) for index, item in enumerate(_list(answer, "segments"))]
    if words:
        start, end = words[0].start, words[-1].end
    elif spans:
        start, end = spans[0][0], spans[-1][1]
    else:
        start, end = 0.0, _number(answer.get("duration", 0.0), "duration")
    return Segment(text=text.strip(), start=start, end=end, words=words, final=True)


def error_message(body: bytes) -> str:
    """The `error.message` of an error answer (the OpenAI convention), on one short line."""
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""
    if not isinstance(message, str):
        return ""
    return " ".join(message.split())[:200]


def _list(answer: dict[str, Any], key: str) -> list[Any]:
    value = answer.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f'"{key}" is not a list')
    return value


def _word(item: object, index: int) -> Word:
    where = f"words[{index}]"
    if not isinstance(item, dict) or not isinstance(item.get("word"), str):
        raise ValueError(f'{where} has no "word" string')
    start = _number(item.get("start"), f"{where}.start")
    end = _number(item.get("end"), f"{where}.end")
    return Word(item["word"].strip(), start, max(start, end))


def _span(item: object, index: int) -> tuple[float, float]:
    where = f"segments[{index}]"
    if not isinstance(item, dict):
        raise ValueError(f"{where} is not an object")
    return _number(item.get("start"), f"{where}.start"), _number(item.get("end"), f"{where}.end")


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} is not a number")
    return float(value)
