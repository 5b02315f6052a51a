from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from preserver.config import SETTINGS, load_config, with_operator
from preserver.config_kinds import parse_duration, parse_size
from preserver.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_shipped_config_loads_with_documented_defaults() -> None:
    cfg = load_config(REPO / "config.toml", env={})
    assert cfg.data_dir == REPO / "archive"
    assert cfg.db_url == f"sqlite+aiosqlite:///{REPO / 'archive' / 'preserver.db'}"
    assert cfg.capture.max_bytes == 2 * 1024**3
    assert cfg.capture.timeout == 1800
    assert cfg.audit.confirmations == 2
    assert cfg.audit.confirm_after == 6 * 3600
    assert cfg.network.allow_private is False
    assert cfg.probes.youtube_oembed_url == "https://www.youtube.com/oembed"
    assert cfg.custody.tsa_urls == ()


def test_every_config_key_is_commented() -> None:
    """Each key in config.toml has a comment line directly above it."""
    lines = (REPO / "config.toml").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            assert lines[i - 1].startswith("#"), f"config.toml key without comment: {line}"


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    cfg_file = tmp_path / "sub" / "c.toml"
    cfg_file.write_text('data_dir = "data"\n[capture]\nffmpeg = "bin/ffmpeg"\n'
                        '[custody]\ntsa_roots = "roots.pem"\n')
    cfg = load_config(cfg_file, env={})
    assert cfg.data_dir == tmp_path / "sub" / "data"
    assert cfg.capture.ffmpeg == str(tmp_path / "sub" / "bin" / "ffmpeg")
    named = tmp_path / "named.toml"
    named.write_text('[capture]\nffmpeg = "ffmpeg"\n')  # a name is looked up on PATH
    assert load_config(named, env={}).capture.ffmpeg == "ffmpeg"
    assert cfg.custody.tsa_roots == str(tmp_path / "sub" / "roots.pem")


def test_environment_overrides(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text("[capture]\nconcurrency = 3\n")
    env = {
        "PRESERVER_DATA_DIR": str(tmp_path / "elsewhere"),
        "PRESERVER_DATABASE_URL": "postgresql+asyncpg://u@127.0.0.1/db",
        "PRESERVER_OPERATOR": "archivist-1",
        "PRESERVER_CAPTURE_CONCURRENCY": "8",
        "PRESERVER_NETWORK_ALLOW_PRIVATE": "true",
        "PRESERVER_NETWORK_ALLOW_NETWORKS": '["127.0.0.1/32"]',
        "PRESERVER_AUDIT_CONFIRM_AFTER": "1d",
    }
    cfg = load_config(cfg_file, env=env)
    assert cfg.data_dir == tmp_path / "elsewhere"
    assert cfg.db_url == "postgresql+asyncpg://u@127.0.0.1/db"
    assert cfg.operator == "archivist-1"
    assert cfg.capture.concurrency == 8
    assert cfg.network.allow_private is True
    assert cfg.network.allow_networks == ("127.0.0.1/32",)
    assert cfg.audit.confirm_after == 86400


def test_config_named_by_environment(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('operator = "x"\n')
    assert load_config(None, env={"PRESERVER_CONFIG": str(cfg_file)}).operator == "x"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("data_dir = [", "not valid TOML"),
        ("unknown_key = 1", "unknown configuration key: unknown_key"),
        ("[capture]\nconcurrency = 0", "capture.concurrency: expected a positive integer"),
        ("[capture]\nconcurrency = 'four'", "capture.concurrency: expected a positive integer"),
        ("[capture]\ntimeout = 'soon'", "capture.timeout: expected a duration"),
        ("[capture]\nmax_bytes = '2 parsecs'", "capture.max_bytes: expected a size"),
        ("[capture]\nbogus = 1", "unknown configuration key: capture.bogus"),
        ("[network]\nallow_private = 'yes'", "network.allow_private: expected true or false"),
        ("[network]\nallow_networks = ['not-a-net']", "is not a CIDR network"),
        ("[network]\nallow_networks = '127.0.0.1/32'", "expected a list of strings"),
        ("[probes.youtube]\noembed_url = 'ftp://x'", "expected an http"),
        ("[audit]\ninterval_recent = '0s'", "audit.interval_recent: must be longer than 0"),
        ("[audit]\ninterval_stable = 0", "audit.interval_stable: must be longer than 0"),
        ("capture = 3", "capture: expected a table"),
        ("database_url = 'just-a-path'", "database_url: expected a URL"),
        ("operator = 5", "operator: expected a string"),
        ("[browser]\nviewport = '1280'", "browser.viewport: expected WIDTHxHEIGHT"),
        ("[browser]\nviewport = '1280x800x2'", "browser.viewport: expected WIDTHxHEIGHT"),
        ("[browser]\nviewport = '99999x800'", "browser.viewport: expected WIDTHxHEIGHT"),
        ("[browser]\nviewport = '100x100'", "browser.viewport: expected WIDTHxHEIGHT"),
        ("[browser]\nviewport = 1280", "browser.viewport: expected a string"),
        ("[browser]\nmax_height = 0", "browser.max_height: expected a positive integer"),
        ("[browser]\nenabled = 'yes'", "browser.enabled: expected true or false"),
    ],
)
def test_broken_config_names_the_key(tmp_path: Path, text: str, match: str) -> None:
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(cfg_file, env={})


def test_missing_and_binary_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", env={})
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(binary, env={})


@pytest.mark.parametrize(("value", "seconds"), [("6h", 21600), ("30m", 1800), ("20s", 20),
                                                ("500ms", 0.5), (15, 15), ("1d", 86400)])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value, "k") == seconds


@pytest.mark.parametrize(("value", "size"), [("2GiB", 2 * 1024**3), ("20 MiB", 20 * 1024**2),
                                             (1000, 1000), ("1MB", 10**6)])
def test_sizes(value: object, size: int) -> None:
    assert parse_size(value, "k") == size


@pytest.mark.parametrize("value", [True, -1, "-5s", "h", None])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ConfigError, match="k: "):
        parse_duration(value, "k")


def test_every_declared_setting_is_in_config_toml_and_has_one_variable() -> None:
    shipped = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))

    def leaves(table: dict[str, object], prefix: tuple[str, ...]) -> set[tuple[str, ...]]:
        return {p for k, v in table.items() for p in (
            leaves(v, (*prefix, k)) if isinstance(v, dict) else {(*prefix, k)})}

    assert leaves(shipped, ()) == {s.path for s in SETTINGS}
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)


def test_nested_probes_overrides_take_effect(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('[probes.youtube]\noembed_url = "https://file.example/oembed"\n')
    cfg = load_config(cfg_file, env={
        "PRESERVER_PROBES_YOUTUBE_OEMBED_URL": "http://127.0.0.1:9/oembed",
        "PRESERVER_PROBES_WAYBACK_URL": "http://127.0.0.1:9/wayback",
    })
    assert cfg.probes.youtube_oembed_url == "http://127.0.0.1:9/oembed"
    assert cfg.probes.wayback_url == "http://127.0.0.1:9/wayback"


def test_environment_values_are_read_as_their_declared_kind(tmp_path: Path) -> None:
    cfg = load_config(None, env={
        "PRESERVER_NETWORK_USER_AGENT": "123",  # a string key: stays a string
        "PRESERVER_OPERATOR": "true",
        "PRESERVER_CAPTURE_MAX_BYTES": "500MiB",
        "PRESERVER_CAPTURE_PER_HOST": " 3 ",
        "PRESERVER_NETWORK_ALLOW_PRIVATE": "False",
        "PRESERVER_CUSTODY_TSA_URLS": '["http://127.0.0.1:9/tsa", "https://tsa.example/"]',
        "PRESERVER_AUDIT_WEBHOOK_URL": "",
    })
    assert cfg.network.user_agent == "123"
    assert cfg.operator == "true"
    assert cfg.capture.max_bytes == 500 * 1024**2
    assert cfg.capture.per_host == 3
    assert cfg.network.allow_private is False
    assert cfg.custody.tsa_urls == ("http://127.0.0.1:9/tsa", "https://tsa.example/")
    assert cfg.audit.webhook_url == ""


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("PRESERVER_CAPTURE_TIMEOUT", "soon",
         r"^PRESERVER_CAPTURE_TIMEOUT \(capture\.timeout\): expected a duration"),
        ("PRESERVER_AUDIT_INTERVAL_STABLE", "0s",
         r"^PRESERVER_AUDIT_INTERVAL_STABLE \(audit\.interval_stable\): must be longer than 0"),
        ("PRESERVER_CAPTURE_MAX_BYTES", "2 parsecs",
         r"^PRESERVER_CAPTURE_MAX_BYTES \(capture\.max_bytes\): expected a size"),
        ("PRESERVER_CUSTODY_TSA_URLS", "https://a.example/,https://b.example/",
         r"^PRESERVER_CUSTODY_TSA_URLS \(custody\.tsa_urls\): expected a list of strings"),
        ("PRESERVER_CUSTODY_TSA_URLS", '["https://a.example/", 3]',
         r"^PRESERVER_CUSTODY_TSA_URLS \(custody\.tsa_urls\): expected a list of strings"),
        ("PRESERVER_CUSTODY_TSA_URLS", '["ftp://a.example/"]',
         r"^PRESERVER_CUSTODY_TSA_URLS \(custody\.tsa_urls\): expected an http\(s\) URL"),
        ("PRESERVER_NETWORK_ALLOW_NETWORKS", '["10.0.0.0/33"]',
         r"^PRESERVER_NETWORK_ALLOW_NETWORKS \(network\.allow_networks\): '10\.0\.0\.0/33' is not"),
        ("PRESERVER_PROBES_WAYBACK_URL", "archive.org/wayback",
         r"^PRESERVER_PROBES_WAYBACK_URL \(probes\.wayback\.url\): expected an http\(s\) URL"),
        ("PRESERVER_AUDIT_WEBHOOK_URL", "javascript:alert(1)",
         r"^PRESERVER_AUDIT_WEBHOOK_URL \(audit\.webhook_url\): expected an http\(s\) URL"),
        ("PRESERVER_DATABASE_URL", "preserver.db",
         r"^PRESERVER_DATABASE_URL \(database_url\): expected a URL"),
        ("PRESERVER_NETWORK_ALLOW_PRIVATE", "yes",
         r"^PRESERVER_NETWORK_ALLOW_PRIVATE \(network\.allow_private\): expected true or false"),
        ("PRESERVER_CAPTURE_CONCURRENCY", "-3",
         r"^PRESERVER_CAPTURE_CONCURRENCY \(capture\.concurrency\): expected a positive integer"),
        ("PRESERVER_NETWORK_MAX_REDIRECTS", "1e3",
         r"^PRESERVER_NETWORK_MAX_REDIRECTS \(network\.max_redirects\): expected a positive"),
    ],
)
def test_bad_environment_value_names_the_variable(name: str, value: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as caught:
        load_config(None, env={name: value})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["PRESERVER_CAPTURE_BOGUS", "PRESERVER_DATADIR",
                                  "PRESERVER_PROBES_YOUTUBE_URL", "PRESERVER_PROBES",
                                  "PRESERVER_", "PRESERVER_capture_concurrency"])
def test_unknown_preserver_variable_is_an_error(name: str) -> None:
    with pytest.raises(ConfigError, match=f"^unknown environment variable {name}: ") as caught:
        load_config(None, env={name: "1", "PRESERVER_CAPTURE_CONCURRENCY": "2"})
    assert "\n" not in str(caught.value)


def test_config_and_test_variables_are_not_settings(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('operator = "x"\n')
    cfg = load_config(None, env={"PRESERVER_CONFIG": str(cfg_file),
                                 "PRESERVER_TEST_POSTGRES_URL": "postgresql+asyncpg://x/y",
                                 "PRESERVERX": "not ours", "HOME": "/root"})
    assert cfg.operator == "x"


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.toml"
    where = re.escape(str(cfg_file))
    cfg_file.write_text("[probes.wayback]\nurl = 5\n")
    with pytest.raises(ConfigError, match=f"^{where}: probes.wayback.url: expected a string"):
        load_config(cfg_file, env={})
    cfg_file.write_text("[probes]\nyoutube = 'x'\n")
    with pytest.raises(ConfigError, match=f"^{where}: probes.youtube: expected a table"):
        load_config(cfg_file, env={})
    cfg_file.write_text("[probes.youtube]\nurl = 'https://x'\n")
    with pytest.raises(ConfigError, match="unknown configuration key: probes.youtube.url"):
        load_config(cfg_file, env={})


def test_built_in_defaults_load_without_a_file() -> None:
    cfg = load_config(None, env={})
    assert cfg.browser.viewport == (1280, 800) and cfg.browser.enabled is True
    assert cfg.collection.ip_echo_url == "https://checkip.amazonaws.com/"
    assert cfg.collection.ntp_server == "pool.ntp.org"


def test_with_operator_overrides_and_refuses_an_empty_name() -> None:
    cfg = load_config(None, env={"PRESERVER_OPERATOR": "  Env Name "})
    assert with_operator(cfg).operator == "Env Name"
    assert with_operator(cfg, "Opt").operator == "Opt"
    for blank in ("", " ", "\t\n"):
        with pytest.raises(ConfigError, match="no operator: .*--operator NAME, set "
                                              "PRESERVER_OPERATOR, or write operator ="):
            with_operator(cfg, blank)
    with pytest.raises(ConfigError, match="no operator"):
        with_operator(load_config(None, env={}))
