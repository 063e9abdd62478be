"""Room power from raw events: room version 12's privileged creators, older rooms' rules."""

from __future__ import annotations

from bridge.power import CREATOR_POWER, RoomPowers, creators_are_privileged


def create(sender: str, version: str, **content: object) -> dict[str, object]:
    return {
        "type": "m.room.create",
        "state_key": "",
        "sender": sender,
        "content": {"room_version": version, **content},
    }


def levels(users: dict[str, object], default: object = 0) -> dict[str, object]:
    return {
        "type": "m.room.power_levels",
        "state_key": "",
        "sender": "@x:s",
        "content": {"users": users, "users_default": default},
    }


def powers(*events: dict[str, object]) -> RoomPowers:
    room = RoomPowers()
    for event in events:
        room.apply(event)
    return room


def test_version_12_creators_outrank_everyone_without_being_listed():
    room = powers(
        create("@alice:s", "12", additional_creators=["@carol:s"]),
        levels({"@bob:s": 100}),
    )
    assert room.level("@alice:s") == CREATOR_POWER
    assert room.level("@carol:s") == CREATOR_POWER
    assert room.level("@bob:s") == 100
    assert room.level("@dave:s") == 0


def test_older_rooms_list_the_creator_in_power_levels():
    room = powers(
        create("@alice:s", "10", additional_creators=["@carol:s"]),
        levels({"@alice:s": 50}, default="10"),
    )
    assert room.level("@alice:s") == 50
    assert room.level("@carol:s") == 10
    assert powers(create("@alice:s", "10")).level("@alice:s") == 100


def test_later_power_levels_replace_earlier_ones_and_junk_is_ignored():
    room = powers(
        create("@alice:s", "11"),
        levels({"@bob:s": 0}),
        levels({"@bob:s": "75", "@eve:s": True, "@mallory:s": "lots"}),
        {"type": "m.room.power_levels", "state_key": "x", "content": {"users": {"@z:s": 100}}},
        {"type": "m.room.power_levels", "state_key": "", "content": "nonsense"},
    )
    assert room.level("@bob:s") == 75
    assert room.level("@eve:s") == 0
    assert room.level("@mallory:s") == 0
    assert room.level("@z:s") == 0


def test_which_versions_privilege_creators():
    assert not any(creators_are_privileged(str(v)) for v in range(1, 12))
    assert creators_are_privileged("12")
    assert creators_are_privileged("org.matrix.hydra.11")
    assert not creators_are_privileged("org.matrix.msc2176")
