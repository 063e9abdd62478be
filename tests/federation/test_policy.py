"""Who is a partner: closed by default, the file's partners fixed, the database's managed with
`hub federation`; the [federation] configuration and its production checks; `hub keys`."""

from __future__ import annotations

import contextlib
import logging
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable

import pytest

from hub.cli import main
from hub.config import load_config
from hub.db import migrate
from hub.db.database import Database
from hub.db.models import AccessLevel
from hub.errors import ConfigError
from hub.federation.keys import load
from hub.federation.policy import PartnerPolicy, PolicyError
from hub.meetings.events import EventBus
from hub.meetings.ids import new_meeting_id
from hub.meetings.service import MeetingService
from tests.federation.conftest import hub_config, partner_entry
from tests.support.processes import free_port, start, stop, wait_for_port
from tests.test_config import EXAMPLE, EXAMPLE_SECRET, GOOD_SECRET, production_example

FINANCES = partner_entry(
    "visio.finances.test",
    9001,
    label="Finances",
    inbound_trusted=True,
    outbound_allowed=True,
    matrix_homeservers=["agent.finances.test"],
)


@pytest.fixture
async def database(tmp_path) -> AsyncIterator[Database]:
    config = hub_config(tmp_path, "hub-a.test", free_port())
    db = Database(config)
    await db.open()
    await migrate.upgrade(db.engine, db.display_url)
    yield db
    await db.close()


def _policy(tmp_path, database: Database, partners=(), **federation) -> PartnerPolicy:
    config = hub_config(tmp_path, "hub-a.test", free_port(), partners, **federation)
    return PartnerPolicy(config, database.sessions)


async def test_nobody_is_a_partner_unless_listed(tmp_path, database):
    policy = _policy(tmp_path, database)
    assert await policy.all() == []
    for name in ("hub-b.test", "visio.finances.test", "", "not a name", "A" * 300):
        assert await policy.get(name) is None
    assert await policy.partner_for_homeserver("agent.finances.test") is None


async def test_partners_from_the_file_and_the_database(tmp_path, database):
    policy = _policy(tmp_path, database, [FINANCES])
    finances = await policy.get("Visio.Finances.test")
    assert finances is not None
    assert (finances.label, finances.source, finances.base_url) == (
        "Finances",
        "config",
        "http://127.0.0.1:9001",
    )
    assert finances.inbound_trusted and finances.outbound_allowed
    added = await policy.add(
        "hub-b.test", "http://127.0.0.1:9002/", matrix_homeservers=["matrix.b.test"]
    )
    assert (added.label, added.source, added.base_url) == (
        "hub-b.test",
        "database",
        "http://127.0.0.1:9002",
    )
    assert not added.inbound_trusted and not added.outbound_allowed
    assert await policy.get("hub-b.test") == added
    assert [p.server_name for p in await policy.all()] == ["visio.finances.test", "hub-b.test"]
    assert await policy.partner_for_homeserver("agent.finances.test") == finances
    assert await policy.partner_for_homeserver("matrix.b.test") == added
    # Adding again replaces what the database says.
    again = await policy.add(
        "hub-b.test", "http://127.0.0.1:9003", label="Bravo", inbound_trusted=True
    )
    assert await policy.get("hub-b.test") == again
    assert (again.label, again.inbound_trusted, again.matrix_homeservers) == ("Bravo", True, ())


async def test_refused_changes_say_why(tmp_path, database):
    policy = _policy(tmp_path, database, [FINANCES])
    await policy.add("hub-b.test", "http://127.0.0.1:9002", matrix_homeservers=["matrix.b.test"])
    for call, message in (
        (
            lambda: policy.remove("visio.finances.test"),
            "visio.finances.test is declared in the configuration file ([[federation.partners]]); "
            "edit the file to remove it",
        ),
        (
            lambda: policy.add("visio.finances.test", "https://x.test"),
            "visio.finances.test is declared in the configuration file",
        ),
        (
            lambda: policy.add("hub-a.test", "https://x.test"),
            "hub-a.test is this hub's own server name",
        ),
        (
            lambda: policy.add(
                "hub-c.test", "https://x.test", matrix_homeservers=["agent.finances.test"]
            ),
            "Matrix homeserver agent.finances.test already belongs to partner visio.finances.test",
        ),
        (lambda: policy.add("hub_c", "https://x.test"), "server name host must be DNS labels"),
        (lambda: policy.add("hub-c.test", "https://x.test/path"), "'https://x.test/path' must be"),
        (
            lambda: policy.add("hub-c.test", "https://x.test", label="x" * 121),
            "label is longer than 120",
        ),
        (
            lambda: policy.remove("hub-c.test"),
            "hub-c.test is not a partner added with `hub federation add`",
        ),
    ):
        with pytest.raises(PolicyError) as error:
            await call()
        assert str(error.value).startswith(message), str(error.value)
    assert await policy.get("visio.finances.test") is not None


async def test_removed_partners_keep_their_row_for_the_meetings_they_hosted(tmp_path, database):
    policy = _policy(tmp_path, database, [FINANCES])
    meetings = MeetingService(database.sessions, EventBus())
    await policy.sync_config()  # at start: the file's partners get rows meetings refer to
    await meetings.mirror(
        new_meeting_id(),
        host="visio.finances.test",
        title="Budget",
        access_level=AccessLevel.TRUSTED,
    )
    await policy.add("hub-b.test", "http://127.0.0.1:9002")
    mirrored = await meetings.mirror(
        new_meeting_id(), host="hub-b.test", title="Point", access_level=AccessLevel.RESTRICTED
    )
    await policy.remove("hub-b.test")
    assert await policy.get("hub-b.test") is None
    assert [p.server_name for p in await policy.all()] == ["visio.finances.test"]
    assert (await meetings.get(mirrored.id)).host_instance == "hub-b.test"
    with pytest.raises(PolicyError, match="not a partner"):
        await policy.remove("hub-b.test")
    assert (await policy.add("hub-b.test", "http://127.0.0.1:9002")).source == "database"
    # A partner dropped from the file is no partner any more, though its row stays.
    emptied = _policy(tmp_path, database)
    await emptied.sync_config()
    assert await emptied.get("visio.finances.test") is None
    assert [p.server_name for p in await emptied.all()] == ["hub-b.test"]


# --- configuration ------------------------------------------------------------------------


def _federation_example(tmp_path, extra: str, *, production: bool = True):
    replace = {EXAMPLE_SECRET: GOOD_SECRET} if production else {}
    replace['server_name = ""\n# The private'] = 'server_name = "Visio.A.test"\n# The private'
    replace["key_validity_hours = 24\n"] = ""
    path = production_example(tmp_path, replace) if production else _dev(tmp_path, replace)
    # Appended, as the example says: its last table is [federation], partners come after.
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


def _dev(tmp_path, replace):
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / "dev.toml"
    path.write_text(text, encoding="utf-8")
    return path


PARTNER = """
[[federation.partners]]
server_name = "visio.finances.test"
base_url = "{url}"
matrix_homeservers = ["agent.finances.test"]
"""


def test_production_refuses_http_partners_private_networks_and_a_missing_key(tmp_path):
    key = tmp_path / "signing.key"
    environ = {"HUB_FEDERATION__SIGNING_KEY_FILE": str(key)}
    path = _federation_example(tmp_path, PARTNER.format(url="https://visio.finances.test"))
    with pytest.raises(ConfigError) as error:
        load_config(path, environ=environ)
    assert str(error.value) == (
        f"HUB_FEDERATION__SIGNING_KEY_FILE: federation.signing_key_file: {key} does not exist; "
        "create it with `hub keys generate --config FILE`"
    )
    config = load_config(path, environ=environ, need_keys=False)  # what `hub keys generate` uses
    assert config.federation.server_name == "visio.a.test"
    assert config.federation_key_file == key
    http = _federation_example(tmp_path, PARTNER.format(url="http://visio.finances.test"))
    with pytest.raises(
        ConfigError, match=r"federation\.partners\.0\.base_url: must be an https://"
    ):
        load_config(http, environ=environ, need_keys=False)
    with pytest.raises(ConfigError, match=r"federation\.allow_private_networks: must be false"):
        load_config(
            path,
            environ={**environ, "HUB_FEDERATION__ALLOW_PRIVATE_NETWORKS": "true"},
            need_keys=False,
        )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (PARTNER.format(url="https://a.test/hub"), "federation.partners.0.base_url: "),
        (PARTNER.format(url="https://a.test") * 2, "partner visio.finances.test is declared twice"),
        (
            PARTNER.format(url="https://a.test").replace("visio.finances.test", "visio.a.test"),
            "partner visio.a.test is this hub's own server_name",
        ),
        (
            PARTNER.format(url="https://a.test")
            + PARTNER.format(url="https://b.test").replace('"visio.finances.test"', '"b.test"'),
            "Matrix homeserver agent.finances.test belongs to two partners",
        ),
        (
            PARTNER.format(url="https://a.test").replace('"agent.finances.test"', '"x_y"'),
            "federation.partners.0.matrix_homeservers",
        ),
        ("key_validity_hours = 169\n", "federation.key_validity_hours"),
        ("colour = 1\n", "federation.colour: unknown key"),
    ],
)
def test_federation_config_mistakes_give_one_line(tmp_path, extra, message):
    path = _federation_example(tmp_path, extra, production=False)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert message in str(error.value)
    assert "\n" not in str(error.value)


# --- the hub command ----------------------------------------------------------------------


@pytest.fixture
def hub(monkeypatch, capsys) -> Callable[..., tuple[int, str, str]]:
    """`hub ARGS...` in this process (main() as the console script calls it), its logging
    set-up undone afterwards."""
    monkeypatch.setattr(logging, "shutdown", lambda: None)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    root.handlers[:] = handlers
    root.setLevel(level)


def test_hub_federation_add_list_remove(tmp_path, hub):
    config = hub_config(tmp_path, "hub-a.test", free_port(), [FINANCES])
    file = str(tmp_path / "hub-a.test" / "config.toml")
    assert load_config(tmp_path / "hub-a.test" / "config.toml", environ={}) == config
    code, out, _ = hub("federation", "list", "--config", file)
    assert (code, out.splitlines()) == (
        0,
        [
            "visio.finances.test http://127.0.0.1:9001 label='Finances' inbound_trusted=yes "
            "outbound_allowed=yes matrix=agent.finances.test (config)"
        ],
    )
    code, out, err = hub(
        "federation",
        "add",
        "Hub-B.test",
        "http://127.0.0.1:9002",
        "--label",
        "Bravo",
        "--outbound-allowed",
        "--matrix-homeserver",
        "m1.b.test",
        "m2.b.test",
        "--config",
        file,
    )
    assert code == 0, err
    assert out == (
        "partner hub-b.test added: http://127.0.0.1:9002 label='Bravo' inbound_trusted=no "
        "outbound_allowed=yes matrix=m1.b.test,m2.b.test (database)\n"
    )
    assert "hub-b.test http://127.0.0.1:9002" in hub("federation", "list", "--config", file)[1]
    code, _, err = hub("federation", "remove", "visio.finances.test", "--config", file)
    assert (code, err) == (
        2,
        (
            "hub: configuration error: visio.finances.test is declared in the configuration file "
            f"([[federation.partners]]); edit the file to remove it ({file})\n"
        ),
    )
    code, _, err = hub("federation", "add", "bad_name", "https://x.test", "--config", file)
    assert code == 2 and err.count("\n") == 1 and "server name host must be DNS labels" in err
    assert hub("federation", "remove", "hub-b.test", "--config", file)[:2] == (
        0,
        "partner hub-b.test removed: its requests are refused from now on\n",
    )
    assert "hub-b.test" not in hub("federation", "list", "--config", file)[1]


def test_hub_keys_generate_and_show_never_print_the_private_key(tmp_path, hub):
    hub_config(tmp_path, "hub-a.test", free_port())
    file = str(tmp_path / "hub-a.test" / "config.toml")
    key_file = tmp_path / "hub-a.test" / "data" / "federation" / "signing.key"
    code, out, _ = hub("keys", "show", "--config", file)
    assert code == 2
    code, out, _ = hub("keys", "generate", "--config", file)
    first = load(key_file)
    assert (code, out) == (0, f"generated key {first.key_id} in {key_file}\n")
    code, out, _ = hub("keys", "generate", "--config", file)
    second = load(key_file)
    assert out.splitlines() == [
        f"generated key {second.key_id} in {key_file}",
        f"retired {first.key_id}: partners still verify what it signed before now; restart "
        "the hub to sign with the new key",
    ]
    code, out, _ = hub("keys", "show", "--config", file)
    lines = out.splitlines()
    assert lines[0] == f"{second.key_id} {second.current.verify_key.public_base64} current"
    assert lines[1].startswith(f"{first.key_id} {first.current.verify_key.public_base64} retired ")
    for key in (first, second):
        assert key.current.seed_base64 not in out
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


# --- two `hub serve` processes --------------------------------------------------------------


def wait_for_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until the hub answers /health/ready (its socket listens before its schema is ready)."""
    wait_for_port("127.0.0.1", port, 30, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2),
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"hub on port {port} never became ready")


def test_two_hub_processes_ping_and_a_removed_partner_is_refused(tmp_path, hub):
    """A lists B in its file; B lists A in its database. A's `hub federation list --check`
    signs a ping B answers; once B removes A with `hub federation remove`, B refuses."""
    a_port, b_port = free_port(), free_port()
    hub_config(tmp_path, "hub-a.test", a_port, [partner_entry("hub-b.test", b_port)])
    hub_config(tmp_path, "hub-b.test", b_port)
    a_file, b_file = (str(tmp_path / name / "config.toml") for name in ("hub-a.test", "hub-b.test"))
    url = f"http://127.0.0.1:{a_port}"
    assert hub("federation", "add", "hub-a.test", url, "--config", b_file)[0] == 0
    processes = {
        name: start(
            [sys.executable, "-m", "hub", "serve", "--config", file],
            log_path=tmp_path / f"{name}.log",
        )
        for name, file in (("a", a_file), ("b", b_file))
    }
    try:
        for name, port in (("a", a_port), ("b", b_port)):
            wait_for_ready(port, processes[name])
        code, out, err = hub("federation", "list", "--check", "--config", a_file)
        assert code == 0, err
        assert out.startswith("hub-b.test http://127.0.0.1:"), out
        assert " (config) ping: ok (" in out, out
        assert hub("federation", "remove", "hub-a.test", "--config", b_file)[0] == 0
        code, out, _ = hub("federation", "list", "--check", "--config", a_file)
        assert code == 1
        assert out.rstrip().endswith(
            "ping: refused: 403 not_a_partner: hub-a.test is not a partner of this hub"
        ), out
    finally:
        for process in processes.values():
            stop(process, signal.SIGTERM)
    log = (tmp_path / "b.log").read_text()
    refused = [line for line in log.splitlines() if "federation: refused" in line]
    assert len(refused) == 1, log
    assert "refused GET /_hub/federation/v1/ping from hub-a.test" in refused[0]
    assert "not_a_partner" in refused[0]
    assert "sig=" not in log and "HubSignature" not in log
    assert "Traceback" not in log + (tmp_path / "a.log").read_text()
