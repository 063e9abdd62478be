"""Configuration: the shipped example is valid; every kind of mistake gives one line and exit 2."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.config import HubConfig, load_config, with_dev_secrets
from hub.errors import ConfigError
from tests.conftest import REPO, toml_value

EXAMPLE = REPO / "config.example.toml"


def run_hub(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
    """Run the real console entry point in a subprocess, as an operator would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def production_example(tmp_path: Path, replace: dict[str, str] | None = None) -> Path:
    """The example file switched to production, with some lines replaced."""
    text = EXAMPLE.read_text(encoding="utf-8").replace("dev = true", "dev = false")
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "prod.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD_SECRET = 'secret_key = "q8V0s3kQ2m9x7Lr4Tn1Bz6Hc5Jd0Wp2Ya8Ue3Rf7Gi"'
EXAMPLE_SECRET = 'secret_key = "change-me-this-example-secret-is-refused-in-production"'


def test_example_config_passes_check_config():
    result = run_hub("check-config", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_every_config_key_is_in_the_example_with_a_comment():
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    where: dict[tuple[str, str], int] = {}
    section = ""
    for index, line in enumerate(lines):
        if line.startswith("["):
            section = line.strip("[]")
        elif line.startswith("# [[") and line.endswith("]]"):
            # An array of tables is shown as a commented block: `key = []` there would make
            # uncommenting the block (or appending one, as the README says) a TOML error.
            table, _, key = line.strip("# []").rpartition(".")
            where[(table, key)] = index
        elif "=" in line and not line.lstrip().startswith("#"):
            where[(section, line.split("=")[0].strip())] = index
    for section_name, field in HubConfig.model_fields.items():
        assert field.annotation is not None
        for key in field.annotation.model_fields:  # type: ignore[union-attr]
            assert (section_name, key) in where, f"{section_name}.{key} missing from example"
            above = lines[where[(section_name, key)] - 1]
            assert above.lstrip().startswith("#"), f"{section_name}.{key} has no comment"


def test_unknown_key_fails_with_one_line_naming_key_and_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(EXAMPLE.read_text().replace("echo = false", "echo = false\nechoo = 1"))
    result = run_hub("check-config", str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"{path}: database.echoo: unknown key" in result.stderr


def test_wrong_type_fails_naming_the_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(EXAMPLE.read_text().replace("port = 8080", 'port = "eighty"'))
    result = run_hub("check-config", str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"{path}: server.port:" in result.stderr


def test_example_secret_refused_outside_dev_mode(tmp_path):
    path = production_example(tmp_path)
    result = run_hub("check-config", str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "security.secret_key: is an example value" in result.stderr
    # The secret itself never appears in the message.
    assert "change-me-this-example" not in result.stderr


def test_empty_and_short_secrets_refused_outside_dev_mode(tmp_path):
    with pytest.raises(ConfigError, match=r"security\.secret_key: is empty"):
        load_config(production_example(tmp_path, {EXAMPLE_SECRET: 'secret_key = ""'}), environ={})
    with pytest.raises(ConfigError, match=r"shorter than 32"):
        load_config(
            production_example(tmp_path, {EXAMPLE_SECRET: 'secret_key = "abc123"'}), environ={}
        )


def test_bridge_token_checked_in_production_and_the_bridge_needs_no_secret_key(tmp_path):
    path = production_example(tmp_path, {EXAMPLE_SECRET: GOOD_SECRET})
    for token, message in (("abc123", "shorter than 32"), ("change-me" * 5, "an example value")):
        where = r"^HUB_MATRIX__BRIDGE_TOKEN: matrix\.bridge_token: is "
        with pytest.raises(ConfigError, match=where + message):
            load_config(path, environ={"HUB_MATRIX__BRIDGE_TOKEN": token})
    token = "Zt3" * 15
    config = load_config(path, environ={"HUB_MATRIX__BRIDGE_TOKEN": token})
    assert config.matrix.bridge_token.get_secret_value() == token
    assert token not in repr(config)
    # The bridge signs nothing: its file needs no security.secret_key.
    bridge_only = production_example(tmp_path, {EXAMPLE_SECRET: 'secret_key = ""'})
    environ = {"HUB_MATRIX__BRIDGE_TOKEN": token, "HUB_MATRIX__HUB_URL": "http://10.0.0.2:8080/"}
    assert load_config(bridge_only, environ=environ, for_bridge=True).bridge_hub_url == (
        "http://10.0.0.2:8080"
    )
    with pytest.raises(ConfigError, match=r"security\.secret_key: is empty"):
        load_config(bridge_only, environ=environ)


def test_missing_public_url_refused_outside_dev_mode(tmp_path):
    path = production_example(
        tmp_path,
        {EXAMPLE_SECRET: GOOD_SECRET, 'public_url = "https://visio.example.gouv.fr"': ""},
    )
    with pytest.raises(ConfigError, match=r"prod\.toml: server\.public_url: is required"):
        load_config(path, environ={})


def test_production_config_with_real_secret_passes(tmp_path):
    config = load_config(production_example(tmp_path, {EXAMPLE_SECRET: GOOD_SECRET}), environ={})
    assert not config.dev
    assert config.public_url == "https://visio.example.gouv.fr"
    assert "q8V0s3" not in repr(config)  # secrets never show in a repr (and so in a log)


def test_environment_overrides_file_and_errors_name_the_variable(tmp_path):
    environ = {
        "HUB_DATABASE__URL": "postgresql+asyncpg://u:p@db:5432/visio",
        "HUB_SERVER__PORT": "9000",
    }
    config = load_config(EXAMPLE, environ=environ)
    assert config.database_url == "postgresql+asyncpg://u:p@db:5432/visio"
    assert config.server.port == 9000
    with pytest.raises(ConfigError, match=r"^HUB_SERVER__PORT: server\.port: "):
        load_config(EXAMPLE, environ={"HUB_SERVER__PORT": "not-a-port"})
    with pytest.raises(ConfigError, match=r"^HUB_SERVER__COLOUR: server\.colour: unknown key"):
        load_config(EXAMPLE, environ={"HUB_SERVER__COLOUR": "blue"})
    with pytest.raises(ConfigError, match=r"^HUB_METRICS__ALLOW_FROM: metrics\.allow_from"):
        load_config(EXAMPLE, environ={"HUB_METRICS__ALLOW_FROM": '["not a network"]'})


def test_trusted_proxies_are_exact_networks():
    variable = "HUB_SERVER__TRUSTED_PROXIES"
    config = load_config(EXAMPLE, environ={variable: '["127.0.0.1/32", "10.1.0.0/16", "::1"]'})
    assert config.server.trusted_proxies == ("127.0.0.1/32", "10.1.0.0/16", "::1")
    assert load_config(EXAMPLE, environ={}).server.trusted_proxies == ()
    for bad, why in [
        ("nginx", "'nginx' is not an IP network"),
        ("10.1.2.3/16", "'10.1.2.3/16' is not an IP network: 10.1.2.3/16 has host bits set"),
        ("0.0.0.0/0", "'0.0.0.0/0' trusts every address"),
        ("::/0", "'::/0' trusts every address"),
    ]:
        with pytest.raises(ConfigError, match=rf"^{variable}: server\.trusted_proxies.*{why}"):
            load_config(EXAMPLE, environ={variable: toml_value([bad])})
    with pytest.raises(ConfigError, match=r"^HUB_SERVER__FORWARDED_HEADER: server\.forwarded_h"):
        load_config(EXAMPLE, environ={"HUB_SERVER__FORWARDED_HEADER": "x-real-ip"})


def test_widget_parent_origins_are_plain_origins():
    variable = "HUB_MATRIX__WIDGET_PARENT_ORIGINS"
    config = load_config(
        EXAMPLE, environ={variable: '["https://WWW.Tchap.gouv.fr/", "http://localhost:8081"]'}
    )
    assert config.matrix.widget_parent_origins == (
        "https://www.tchap.gouv.fr",
        "http://localhost:8081",
    )
    # Each value goes into the CSP header as it is: nothing but scheme, host and port passes.
    for bad in (
        "https://www.tchap.gouv.fr/app",
        "https://*.tchap.gouv.fr",
        "https://a.gouv.fr; script-src *",
        "'self'",
        "www.tchap.gouv.fr",
        "http://www.tchap.gouv.fr",
        "ftp://files.gouv.fr",
    ):
        with pytest.raises(ConfigError, match=rf"^{variable}: matrix\.widget_parent_origins"):
            load_config(EXAMPLE, environ={variable: toml_value([bad])})


def test_environment_can_fix_production_secrets(tmp_path):
    environ = {"HUB_SECURITY__SECRET_KEY": "Zt3" * 15}
    config = load_config(production_example(tmp_path), environ=environ)
    assert config.security.secret_key.get_secret_value() == "Zt3" * 15


def test_invalid_toml_and_missing_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[server\nport = 1\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: invalid TOML"):
        load_config(path, environ={})
    with pytest.raises(ConfigError, match=r"nowhere\.toml: file not found"):
        load_config(tmp_path / "nowhere.toml", environ={})


def test_unsupported_database_driver_is_explained(tmp_path):
    with pytest.raises(ConfigError, match=r"database\.url: must start with sqlite\+aiosqlite"):
        load_config(EXAMPLE, environ={"HUB_DATABASE__URL": "postgresql://db/visio"})


def test_dev_secrets_are_generated_once_kept_private_and_reused(tmp_path):
    environ = {"HUB_SECURITY__SECRET_KEY": "", "HUB_SERVER__DATA_DIR": str(tmp_path / "d")}
    first = with_dev_secrets(load_config(EXAMPLE, environ=environ))
    second = with_dev_secrets(load_config(EXAMPLE, environ=environ))
    value = first.security.secret_key.get_secret_value()
    assert len(value) >= 32
    assert second.security.secret_key.get_secret_value() == value
    store = tmp_path / "d" / "secrets.toml"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600


@given(
    st.dictionaries(
        st.from_regex(r"HUB_[A-Za-z_]{1,12}(__[A-Za-z_]{0,10}){1,3}", fullmatch=True),
        st.text(max_size=30),
        max_size=4,
    )
)
def test_loader_never_fails_other_than_with_a_config_error(environ):
    """Whatever the environment holds, the loader answers a config or a ConfigError."""
    try:
        load_config(EXAMPLE, environ=environ)
    except ConfigError as exc:
        assert "\n" not in str(exc)


def _readme_block(language: str, first_line: str) -> str:
    """The README's fenced block in `language` starting with `first_line` (dedented)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for block in re.findall(rf"^( *)```{language}\n(.*?)^\1```", readme, re.M | re.S):
        text = textwrap.dedent(block[1])
        if text.startswith(first_line):
            return text
    raise AssertionError(f"README has no {language} block starting with {first_line!r}")


def test_the_readme_partner_block_appended_to_the_example_loads(tmp_path):
    """The README's step "list the partner": append its block to a copy of the example."""
    block = _readme_block("toml", "[[federation.partners]]")
    path = tmp_path / "config.toml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + "\n" + block, encoding="utf-8")
    environ = {"HUB_FEDERATION__SERVER_NAME": "visio.interieur.gouv.fr"}
    config = load_config(path, environ=environ, need_keys=False)
    [partner] = config.federation.partners
    assert (partner.server_name, partner.label) == ("visio.finances.gouv.fr", "Finances")
    assert partner.inbound_trusted and partner.outbound_allowed


@pytest.mark.parametrize("table", ["sfu.ice_servers", "auth.providers", "federation.partners"])
def test_each_commented_array_of_tables_in_the_example_loads_once_uncommented(tmp_path, table):
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"# [[{table}]]")
    end = start + 1  # the block: the table line, then its commented `key = value` lines
    while end < len(lines) and lines[end].startswith("# ") and "=" in lines[end]:
        end += 1
    uncommented = [line.removeprefix("# ") for line in lines[start:end]]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines[:start] + uncommented + lines[end:]) + "\n", encoding="utf-8")
    environ = {"HUB_FEDERATION__SERVER_NAME": "visio.interieur.gouv.fr"}
    config = load_config(path, environ=environ, need_keys=False)
    section, key = table.split(".")
    assert len(getattr(getattr(config, section), key)) == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://cache:6379", "must start with redis://, rediss:// (TLS) or unix://"),
        ("redis://:pw-Zz9@/0", "names no host"),
        ("redis://:pw-Zz9@cache:99999/0", "is not a valid URL"),
        ("redis://:pw-Zz9@cache:6379/zero", "the path must be a database number"),
        ("redis://:pw-Zz9@cache:6379/0?colour=blue", "unknown option 'colour'"),
        ("redis://:pw-Zz9@cache:6379/0?socket_timeout=soon", "option 'socket_timeout' has an"),
        ("unix://run/redis.sock", "unix:// needs the socket's absolute path"),
    ],
)
def test_a_bad_redis_url_is_one_line_without_its_password(url, reason):
    with pytest.raises(ConfigError) as refused:
        load_config(EXAMPLE, environ={"HUB_REDIS__URL": url})
    message = str(refused.value)
    assert message.startswith("HUB_REDIS__URL: redis.url: ") and reason in message, message
    assert "pw-Zz9" not in message and "\n" not in message


def test_redis_url_in_production_needs_a_real_password_off_this_machine(tmp_path):
    path = production_example(tmp_path, {EXAMPLE_SECRET: GOOD_SECRET})
    for fine in ("", "redis://127.0.0.1:6380/1", "unix:///run/redis/redis.sock",
                 "rediss://:Qm4t-Real-Pass@cache.example.gouv.fr:6380/0"):  # fmt: skip
        config = load_config(path, environ={"HUB_REDIS__URL": fine})
        assert config.redis.url.get_secret_value() == fine
        assert "Real-Pass" not in repr(config)  # the password never shows in a repr
    with pytest.raises(ConfigError, match=r"^HUB_REDIS__URL: redis\.url: reaches another machine"):
        load_config(path, environ={"HUB_REDIS__URL": "redis://cache.example.gouv.fr:6379/0"})
    with pytest.raises(ConfigError, match=r"redis\.url: its password is an example value"):
        load_config(path, environ={"HUB_REDIS__URL": "redis://:change-me@cache:6379/0"})
    # In dev mode a password-less Redis elsewhere is the developer's business.
    load_config(EXAMPLE, environ={"HUB_REDIS__URL": "redis://cache.example.gouv.fr:6379/0"})


def test_the_redis_url_is_shown_without_credentials():
    from hub.shared.address import display_redis_url

    assert display_redis_url("") == "in-memory"
    assert display_redis_url("redis://user:s3cret@[::1]:6380/2?db=3") == "redis://***@[::1]:6380/2"
    assert display_redis_url("rediss://:s3cret@cache/0") == "rediss://***@cache/0"
    assert display_redis_url("unix:///run/redis.sock") == "unix:///run/redis.sock"


def test_live_subtitles_and_recording_are_allowed_with_sfu_workers(tmp_path):
    path = tmp_path / "hub.toml"
    path.write_text(
        '[sfu]\nworkers = 2\n[speech]\nbackend = "openai"\nopenai_url = "http://127.0.0.1:9/v1"\n'
    )
    config = load_config(path, environ={}, dev=True)
    assert config.sfu.workers == 2 and config.speech.subtitles and config.recording.enabled


def test_the_bot_on_several_nodes_needs_a_store_folder_they_share():
    several = {
        "HUB_REDIS__URL": "redis://127.0.0.1:6380/1",
        "HUB_MATRIX__BOT_USER_ID": "@visio:agent.tchap.gouv.fr",
        "HUB_MATRIX__BOT_HOMESERVER_URL": "https://matrix.agent.tchap.gouv.fr",
    }
    with pytest.raises(ConfigError, match=r"matrix\.bot_store_dir: required with redis\.url"):
        load_config(EXAMPLE, environ=several)
    shared = load_config(EXAMPLE, environ={**several, "HUB_MATRIX__BOT_STORE_DIR": "/srv/bot"})
    assert shared.matrix.bot_store_dir == Path("/srv/bot")
    # One node (no Redis), or a bot run alone (`hub bridge`): its data folder, as before.
    alone = load_config(EXAMPLE, environ={**several, "HUB_REDIS__URL": ""})
    assert alone.matrix.bot_store_dir is None
    bridge_token = {"HUB_MATRIX__BRIDGE_TOKEN": "a-bridge-token-of-forty-characters-xx"}
    assert load_config(EXAMPLE, environ={**several, **bridge_token}).matrix.bot_store_dir is None


def test_remote_sfu_workers_are_checked_in_one_line(tmp_path):
    def sfu(block: str, secret: str = 'worker_secret = "' + "w" * 40 + '"') -> Path:
        path = tmp_path / "sfu.toml"
        path.write_text(f"[server]\ndev = true\n[sfu]\n{secret}\n{block}", encoding="utf-8")
        return path

    worker = '[[sfu.remote_workers]]\naddress = "10.0.0.5:7710"\n'
    config = load_config(sfu(worker + 'candidate_addresses = ["203.0.113.5"]\n'), environ={})
    (remote,) = config.sfu.remote_workers
    assert (remote.host, remote.port, remote.tls_name) == ("10.0.0.5", 7710, "10.0.0.5")
    assert config.sfu.pooled and config.sfu.workers == 0
    refusals = {
        sfu(worker, secret=""): "sfu: worker_secret: required with remote_workers",
        sfu('[[sfu.remote_workers]]\naddress = "10.0.0.5"\n'): "address: '10.0.0.5' is not host",
        sfu('[[sfu.remote_workers]]\naddress = "::1:7710"\n'): "IPv6 host goes in brackets",
        sfu(worker + 'relay_addresses = ["sfu-1"]\n'): "'sfu-1' is not an IP address",
        sfu(worker + worker): "remote_workers: 10.0.0.5:7710 is listed twice",
        sfu(worker, secret='worker_ca_file = "/nonexistent/ca.pem"\nworker_secret = "x"'): (
            "worker_ca_file: /nonexistent/ca.pem is not a file"
        ),
    }
    for path, message in refusals.items():
        with pytest.raises(ConfigError, match=re.escape(message)) as caught:
            load_config(path, environ={})
        assert "\n" not in str(caught.value)
    # Outside dev mode, an example secret is refused, and never shown.
    path = production_example(
        tmp_path,
        {
            EXAMPLE_SECRET: GOOD_SECRET,
            'worker_secret = ""': 'worker_secret = "' + "change-me" * 5 + '"',
        },
    )
    with pytest.raises(ConfigError, match=r"sfu\.worker_secret: is an example value") as caught:
        load_config(path, environ={})
    assert "change-me" not in str(caught.value)


def test_nodes_of_a_federating_hub_need_their_own_address():
    several = {
        "HUB_REDIS__URL": "redis://127.0.0.1:6380/1",
        "HUB_FEDERATION__SERVER_NAME": "visio.interieur.gouv.fr",
    }
    with pytest.raises(ConfigError, match=r"server\.node_url: required with redis\.url and fed"):
        load_config(EXAMPLE, environ=several, dev=True)
    node = {**several, "HUB_SERVER__NODE_URL": "http://10.0.0.5:8080/"}
    assert load_config(EXAMPLE, environ=node, dev=True).server.node_url == "http://10.0.0.5:8080"
    for bad in ("10.0.0.5:8080", "ftp://10.0.0.5", "http://10.0.0.5:8080/hub", "http://x:99999",
                "http://user@10.0.0.5", "http://10.0.0.5?a=1", "http://"):  # fmt: skip
        with pytest.raises(ConfigError) as refused:
            load_config(EXAMPLE, environ={**several, "HUB_SERVER__NODE_URL": bad}, dev=True)
        message = str(refused.value)
        assert "\n" not in message and "HUB_SERVER__NODE_URL: server.node_url: must be" in message
    # One node (no Redis), or no federation: nothing is passed between nodes, as before.
    assert load_config(EXAMPLE, environ={**several, "HUB_REDIS__URL": ""}, dev=True)
    assert load_config(EXAMPLE, environ={"HUB_REDIS__URL": "redis://127.0.0.1:6380/1"}, dev=True)
