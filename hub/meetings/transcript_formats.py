"""A transcript as files: WebVTT (one cue per utterance, the speaker in a `<v>` voice tag, for
players and editors) and Markdown (to read). Pure: text in, text out."""

from __future__ import annotations

from .transcripts import Line, Transcript

MIN_CUE = 0.1  # seconds: WebVTT wants every cue to end after it starts
_MARKDOWN_SPECIAL = "\\`*_[]<>#|~"


def clock(seconds: float, *, fraction: bool = True) -> str:
    """`01:02:03.456` (WebVTT's hours:minutes:seconds.milliseconds), or `01:02:03`."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, millis = divmod(rest, 1000)
    text = f"{hours:02d}:{minutes:02d}:{whole:02d}"
    return f"{text}.{millis:03d}" if fraction else text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _vtt_escape(text: str) -> str:
    """Cue text and voice names may hold no raw `&`, `<` or `>` (nor `-->`, which the `>` in
    it covers), and no line break (which would end the cue)."""
    return _one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt_cue(number: int, line: Line) -> str:
    end = max(line.end, line.start + MIN_CUE)
    return (
        f"{number}\n{clock(line.start)} --> {clock(end)}\n"
        f"<v {_vtt_escape(line.speaker)}>{_vtt_escape(line.text)}\n"
    )


def webvtt(transcript: Transcript) -> str:
    header = f"WEBVTT - {_vtt_escape(transcript.title)}\n"
    return "\n".join([header, *(_vtt_cue(n, line) for n, line in enumerate(transcript.lines, 1))])


def _md_escape(text: str) -> str:
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in _one_line(text))


def markdown(transcript: Transcript) -> str:
    """A heading, when the meeting started, then one paragraph per utterance."""
    started = transcript.started_at.strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f"# Transcription / Transcript — {_md_escape(transcript.title)}",
        "",
        f"Début de la réunion / Meeting started: {started}",
        "",
    ]
    for line in transcript.lines:
        out += [
            f"**[{clock(line.start, fraction=False)}] {_md_escape(line.speaker)}** : "
            f"{_md_escape(line.text)}",
            "",
        ]
    return "\n".join(out)


def file_name(transcript: Transcript, extension: str) -> str:
    """`transcript-abc-defg-hij.vtt`: meeting ids are letters and dashes, safe in a header."""
    return f"transcript-{transcript.meeting_id}.{extension}"
