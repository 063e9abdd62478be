"""The [transcript_summary] section: an OpenAI-compatible chat service the operator names to
summarise each finished transcript (off unless `url` is set; no other host is contacted)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from hub.config_sections import _Section
from hub.config_url import service_base_url

DEFAULT_PROMPT = (
    "Tu reçois la transcription d'une réunion (Markdown : heure, personne, propos). "
    "Rédige en français un compte rendu bref : les sujets abordés, les décisions prises, "
    "les actions à mener avec qui s'en charge. N'invente rien qui ne soit dans la transcription."
)


class SummaryConfig(_Section):
    """Summaries of transcripts by an OpenAI-compatible `POST {url}/chat/completions`."""

    # The base URL, ending before /chat (e.g. "https://ai.example.gouv.fr/v1"); empty: off.
    url: str = ""
    model: str = Field(default="", max_length=200)
    # The instructions sent as the system message, before the transcript.
    prompt: str = Field(default=DEFAULT_PROMPT, min_length=1, max_length=4000)
    # Sent as `Authorization: Bearer <key>`; empty: none. Better in the environment:
    # HUB_TRANSCRIPT_SUMMARY__API_KEY.
    api_key: SecretStr = SecretStr("")
    # Longest wait for the whole answer; past it the room is told there is no summary.
    timeout: float = Field(default=120.0, gt=0, le=600)

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return service_base_url(value, before="/chat")

    @model_validator(mode="after")
    def _model_named(self) -> SummaryConfig:
        if self.url and not self.model.strip():
            raise ValueError("model: is required when url is set (the name the service expects)")
        return self
