"""The cascade link's messages: what a partner may send, and the precise refusal of the rest."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.federation import messages as m

PRESENCE = {
    "participant_id": "8c1f0e9e-2f4a-4bb5-9d7e-0a3c2f1b5e77",
    "identity": "local:proconnect:4f1e",
    "name": "Bruno",
    "role": "participant",
    "audio": True,
    "video": False,
}


def test_each_message_round_trips() -> None:
    samples: list[m._Message] = [
        m.Hello(type="hello", presences=[m.PresenceInfo(**PRESENCE)]),
        m.Joined(type="joined", presence=m.PresenceInfo(**PRESENCE)),
        m.Left(type="left", participant_id="p1"),
        m.Offer(
            type="offer",
            sdp="v=0\r\n",
            streams=[m.LinkStream(mid="0", participant_id="p1", source="camera", kind="video")],
        ),
        m.Answer(type="answer", sdp="v=0\r\n"),
        m.Chat(type="chat", participant_id="p1", text="Bonjour", at="2026-11-22T10:00:00+00:00"),
        m.Mute(type="mute", participant_id="p1", kind="audio", actor="p2"),
        m.Remove(type="remove", participant_id="p1", actor="p2"),
        m.Verdict(type="verdict", ticket="t1", verdict="admitted"),
        m.Withdraw(type="withdraw", ticket="t1"),
        m.Locked(type="locked", locked=True),
        m.Ended(type="ended"),
        m.Restarting(type="restarting"),
    ]
    for message in samples:
        assert m.parse_link_message(m.to_json(message)) == message
    assert {message.type for message in samples} == m.LINK_TYPES - {"updated"}


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("not json", "link message is not JSON"),
        ("[" * 10_000, "link message is not acceptable: JSON is nested deeper than 32 levels"),
        ("[1, 2]", "link message is not a JSON object"),
        ('{"type": "shutdown"}', "unknown link message type 'shutdown'"),
        ('{"type": "left"}', "left: participant_id: Field required"),
        (
            '{"type": "left", "participant_id": ""}',
            "left: participant_id: String should have at least 1 character",
        ),
        (
            '{"type": "mute", "participant_id": "p", "kind": "smell", "actor": "A"}',
            "mute: kind: Input should be 'audio' or 'video'",
        ),
        ('{"type": "ended", "why": "x"}', "ended: why: Extra inputs are not permitted"),
        (
            json.dumps({"type": "joined", "presence": {**PRESENCE, "role": "owner!"}}),
            "joined: presence.role: Input should be 'owner', 'moderator' or 'participant'",
        ),
    ],
)
def test_malformed_messages_are_refused_precisely(frame: str, error: str) -> None:
    with pytest.raises(m.LinkError) as caught:
        m.parse_link_message(frame)
    assert str(caught.value) == error


def test_an_oversized_frame_is_refused_before_parsing() -> None:
    frame = json.dumps({"type": "answer", "sdp": "x" * m.MAX_LINK_FRAME})
    with pytest.raises(m.LinkError, match="larger than"):
        m.parse_link_message(frame)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_any_frame_parses_or_raises_link_error(frame: str | bytes) -> None:
    with contextlib.suppress(m.LinkError):
        m.parse_link_message(frame)


@given(
    st.dictionaries(
        st.sampled_from(["type", "participant_id", "sdp", "ticket", "kind", "locked", "x"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    )
)
def test_any_object_parses_or_raises_link_error(data: dict[str, object]) -> None:
    with contextlib.suppress(m.LinkError):
        m.parse_link_message(json.dumps(data))


def test_a_partners_knock_message_is_cleaned_by_the_pages_rule_or_refused() -> None:
    asked = {"identity": "guest:b0b", "name": "Bob", "authenticated": False}
    assert m.AdmissionRequest.model_validate(asked).message is None  # older partners
    folded = m.AdmissionRequest.model_validate({**asked, "message": " Je remplace\n Claire "})
    assert folded.message == "Je remplace Claire"
    for bad, why in (("<b>vite</b>", "HTML markup"), ("x" * 201, "longer than 200"),
                     ("a\u202eb", "control characters")):  # fmt: skip
        with pytest.raises(ValidationError, match=why):
            m.AdmissionRequest.model_validate({**asked, "message": bad})
