"""The signaling parser: every frame becomes a typed message or a precise SignalingError."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hub.web.signaling import (
    CLIENT_TYPES,
    MAX_FRAME,
    MAX_TILE_SIDE,
    MAX_TILES,
    Chat,
    IceCandidate,
    Join,
    PublishOffer,
    SignalingError,
    View,
    parse_client_message,
)


def test_valid_messages_parse_into_their_types():
    assert parse_client_message('{"type":"join","name":"Anne"}') == Join(
        type="join", name="Anne", audio=True, video=True
    )
    offer = parse_client_message(
        json.dumps(
            {
                "type": "publish_offer",
                "sdp": "v=0\r\n",
                "tracks": [{"mid": "0", "source": "microphone"}, {"mid": "1", "source": "camera"}],
            }
        )
    )
    assert isinstance(offer, PublishOffer)
    assert [t.source for t in offer.tracks] == ["microphone", "camera"]
    ice = parse_client_message(
        '{"type":"ice","pc":"subscribe","candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host",'
        '"sdp_mid":"0","sdp_mline_index":0}'
    )
    assert isinstance(ice, IceCandidate)
    assert isinstance(parse_client_message('{"type":"chat","text":"bonjour"}'), Chat)


def test_a_large_meetings_subscribe_answer_fits_but_a_publish_offer_stays_small():
    """A page receiving 50 people answers with ~100 m-sections (~150 KB as aiortc writes
    them); a publish offer of that size is no camera's and is refused."""
    sdp = "v=0\r\n" + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" * 5000  # 155 KB
    answer = parse_client_message(json.dumps({"type": "subscribe_answer", "sdp": sdp}))
    assert answer.sdp == sdp
    with pytest.raises(SignalingError) as caught:
        parse_client_message(json.dumps({"type": "publish_offer", "sdp": sdp}))
    assert caught.value.code == "too_large"
    assert "only a subscribe_answer" in caught.value.message
    with pytest.raises(SignalingError) as caught:  # a small frame's own field limit
        parse_client_message(json.dumps({"type": "publish_offer", "sdp": "v" * 62_000}))
    assert caught.value.code == "invalid_field"
    assert "at most 61440 characters" in caught.value.message


@pytest.mark.parametrize(
    ("frame", "code", "message"),
    [
        (b"\x00\x01", "binary_frame", "binary frames are not accepted; send JSON text"),
        ("{", "invalid_json", "message is not valid JSON"),
        ("[1]", "invalid_message", "message must be a JSON object"),
        ('{"kind":"join"}', "invalid_message", "message has no string field 'type'"),
        ('{"type":"dance"}', "unknown_type", "unknown message type 'dance'"),
        ('{"type":"join"}', "invalid_field", "join: name: Field required"),
        (
            '{"type":"join","name":""}',
            "invalid_field",
            "join: name: String should have at least 1 character",
        ),
        (
            '{"type":"chat","text":"hi","admin":true}',
            "invalid_field",
            "chat: admin: Extra inputs are not permitted",
        ),
        (
            '{"type":"hand","raised":"maybe"}',
            "invalid_field",
            "hand: raised: Input should be a valid boolean, unable to interpret input",
        ),
        (
            '{"type":"ice","pc":"other","candidate":""}',
            "invalid_field",
            "ice: pc: Input should be 'publish' or 'subscribe'",
        ),
        (
            '{"type":"publish_offer","sdp":"v=0","tracks":[{"mid":"0","source":"tv"}]}',
            "invalid_field",
            "publish_offer: tracks.0.source: Input should be 'microphone', 'camera', 'screen' or "
            "'screen_audio'",
        ),
        (
            '{"type":"chat","text":' + "[" * 40_000,
            "json_too_deep",
            "message is not acceptable: JSON is nested deeper than 32 levels",
        ),
        (
            '{"type":"chat","text":"' + "x" * (MAX_FRAME) + '"}',
            "too_large",
            f"message is larger than {MAX_FRAME} bytes",
        ),
    ],
)
def test_bad_frames_get_precise_errors(frame, code, message):
    with pytest.raises(SignalingError) as caught:
        parse_client_message(frame)
    assert caught.value.code == code
    assert caught.value.message == message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@given(st.text(max_size=300) | st.binary(max_size=100))
@example('{"type": null}')
@example('{"type": "join", "name": null}')
def test_arbitrary_frames_never_raise_anything_else(frame):
    try:
        parse_client_message(frame)
    except SignalingError as exc:
        assert exc.code and exc.message and "\n" not in exc.message


@given(
    st.sampled_from(sorted(CLIENT_TYPES)),
    st.dictionaries(
        st.sampled_from(
            [
                "name",
                "audio",
                "video",
                "sdp",
                "tracks",
                "pc",
                "candidate",
                "sdp_mid",
                "sdp_mline_index",
                "text",
                "raised",
                "extra",
            ]
        ),
        json_values,
        max_size=5,
    ),
)
def test_well_typed_envelopes_with_random_fields_never_crash(kind, fields):
    try:
        message = parse_client_message(json.dumps({"type": kind, **fields}))
    except SignalingError as exc:
        assert exc.request == kind
    else:
        assert message.type == kind


def test_a_view_lists_tiles_with_sides_clamped_to_what_a_layer_can_be():
    view = parse_client_message(
        json.dumps(
            {
                "type": "view",
                "visible": True,
                "tiles": [
                    {"participant": "p1", "width": 320, "height": 180},
                    {"participant": "p2", "width": -5, "height": 99999},
                ],
            }
        )
    )
    assert isinstance(view, View)
    assert [(t.participant, t.width, t.height) for t in view.tiles] == [
        ("p1", 320, 180),
        ("p2", 0, MAX_TILE_SIDE),
    ]


INTEGER = "Input should be a valid integer"


@pytest.mark.parametrize(
    ("tiles", "message"),
    [
        ([{"participant": "p", "width": 1, "height": 1}] * 2,
         "view: message: participant 'p' is listed twice"),
        ([{"participant": f"p{n}", "width": 1, "height": 1} for n in range(MAX_TILES + 1)],
         "view: tiles: List should have at most 50 items after validation, not 51"),
        ([{"participant": "p", "width": 1.5, "height": 1}], f"view: tiles.0.width: {INTEGER}"),
        ([{"participant": "p", "width": True, "height": 1}], f"view: tiles.0.width: {INTEGER}"),
        ([{"participant": "", "width": 1, "height": 1}],
         "view: tiles.0.participant: String should have at least 1 character"),
        ([{"participant": "p", "width": 1}], "view: tiles.0.height: Field required"),
    ],
)  # fmt: skip
def test_a_bad_view_is_refused_precisely(tiles, message):
    with pytest.raises(SignalingError) as caught:
        parse_client_message(json.dumps({"type": "view", "visible": True, "tiles": tiles}))
    assert (caught.value.code, caught.value.message) == ("invalid_field", message)
