"""``[access.<group>]`` sections: read into ``AccessConfig``, broken ones refused in one
line that names the key and never shows a proxy's password."""

from __future__ import annotations

from pathlib import Path

import pytest

from preserver.config import load_config
from preserver.config_access import redact_proxy
from preserver.db.models import BEFORE_ACCESS
from preserver.errors import ConfigError
from preserver.net import access_for
from workers.access import BEFORE_ACCESS as WORKERS_BEFORE_ACCESS
from workers.access import seen_as

SECRET = "hunter2-Zq9"


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env={})


def test_sections_are_read_by_group(tmp_path: Path) -> None:
    cfg = _load(tmp_path, f'''
[access.youtube]
cookies_file = "secrets/yt.txt"
proxy = "socks5://user:{SECRET}@127.0.0.1:1080"
proxy_on_failure_only = true
extractor_args = {{ youtube = {{ player_client = ["default", "mweb"], po_token = "x" }} }}
label = "account-3 via proxy-de"
audit = false
pause_after = 5

[access."Example.ORG."]
extractor_args = "generic:impersonate=chrome;foo-bar=1,2"
''')
    yt = cfg.access_for("youtube")  # type: ignore[attr-defined]
    assert yt.cookies_file == str(tmp_path / "secrets" / "yt.txt")
    assert yt.proxy_on_failure_only and not yt.audit and yt.pause_after == 5
    assert yt.extractor_args == {"youtube": {"player_client": ("default", "mweb"),
                                             "po_token": ("x",)}}
    web = cfg.access_for("example.org")  # type: ignore[attr-defined]
    assert web.extractor_args == {"generic": {"impersonate": ("chrome",), "foo_bar": ("1", "2")}}
    anonymous = cfg.access_for("facebook")  # type: ignore[attr-defined]
    assert (anonymous.group, anonymous.proxy, anonymous.cookies_file) == ("facebook", "", "")
    # what the workers get: the secrets go to the workers, the records show only the label
    access = access_for(cfg, "youtube")  # type: ignore[arg-type]
    assert access.session and access.proxy and SECRET in access.proxy
    assert SECRET not in repr(access.record(proxied=True))
    assert seen_as(access.record(proxied=True)) == \
        "session account-3 via proxy-de, through its proxy"
    assert access.for_probes().proxy is None  # audit = false: probes stay anonymous


@pytest.mark.parametrize(("text", "match"), [
    ('[access."www.youtube.com"]\nlabel = "x"', "belongs to youtube"),
    ('[access."fb.watch"]\nlabel = "x"', "belongs to facebook"),
    ('[access."example.org:8080"]\nlabel = "x"', "without port"),
    ('[access."example.org/path"]\nlabel = "x"', "without port"),
    ('[access."ex ample"]\nlabel = "x"', "not a group"),
    ('[access.youtube]\nlabel = 3', "access.youtube.label: expected a string"),
    ('[access.youtube]\nsecret = "x"', "unknown configuration key: access.youtube.secret"),
    ('[access.youtube]\nproxy = "ftp://h:21"', "proxy scheme must be one of"),
    ('[access.youtube]\nproxy = "localhost:1080"', "proxy scheme must be one of"),
    (f'[access.youtube]\nproxy = "http://u:{SECRET}@h"', "needs a port"),
    (f'[access.youtube]\nproxy = "http://u:{SECRET}@h:99999"', "not a proxy URL"),
    (f'[access.youtube]\nproxy = "http://u:{SECRET}@h:8/x"', "host:port"),
    # a password with an unencoded / ? # ends the URL's authority early: still never shown
    (f'[access.youtube]\nproxy = "http://u:{SECRET}/x@h:8"', "not a proxy URL"),
    (f'[access.youtube]\nproxy = "http://u:80/{SECRET}@h:8"', "host:port"),
    (f'[access.youtube]\nproxy = "socks5://u:{SECRET}?x@h:8"', "not a proxy URL"),
    (f'[access.youtube]\nproxy = "http://u:{SECRET}#x@h:8"', "not a proxy URL"),
    (f'[access.youtube]\nproxy = "u:{SECRET}@h:8"', "proxy scheme must be one of"),
    ('[access.youtube]\nproxy_on_failure_only = true', "no proxy to fall back on"),
    ('[access.youtube]\nproxy_on_failure_only = "yes"\nproxy = "http://h:1"',
     "expected true or false"),
    ('[access.youtube]\nextractor_args = 5', "extractor_args: expected a table"),
    ('[access.youtube]\nextractor_args = "youtube"', "IE:KEY=VALUE"),
    ('[access.youtube]\nextractor_args = "youtube:player_client"', "is not KEY=VALUE"),
    (f'[access.youtube]\nextractor_args = "po_token={SECRET}"', "the text is not"),
    (f'[access.youtube]\nextractor_args = ["youtube:a=b", "youtube:{SECRET}"]',
     "in text 2 of 2, part 1 after 'youtube:' is not KEY=VALUE"),
    ('[access.youtube]\nextractor_args = { youtube = 3 }', "expected a table of argument"),
    ('[access.youtube]\nextractor_args = { youtube = { player_client = [1] } }',
     "expected a string or a list of strings"),
    ('[access.youtube]\nextractor_args = { "you tube" = { a = "b" } }', "not an extractor name"),
    ('[access.youtube]\npause_after = -1', "whole number of walls"),
    ('[access.youtube]\npause_after = true', "whole number of walls"),
    ('access = 3', "expected tables like"),
    ('[access]\nyoutube = 3', "expected a table"),
    ('[access.youtube]\n[access.YOUTUBE]', "a second section"),
])
def test_broken_sections_are_refused_in_one_line(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as caught:
        _load(tmp_path, text)
    message = str(caught.value)
    assert "\n" not in message and SECRET not in message
    assert str(tmp_path / "config.toml") in message


def test_redacted_proxies_keep_everything_but_the_credentials() -> None:
    assert redact_proxy(f"socks5://u:{SECRET}@10.0.0.9:1080") == "socks5://***@10.0.0.9:1080"
    assert redact_proxy(f"http://{SECRET}@[::1]:3128") == "http://***@[::1]:3128"
    assert redact_proxy("http://proxy:3128") == "http://proxy:3128"
    # credentials that are not percent-encoded, and a URL without its scheme
    assert redact_proxy(f"http://u:{SECRET}/x@proxy:3128") == "http://***@proxy:3128"
    assert redact_proxy(f"http://u:80/{SECRET}@proxy:3128") == "http://***@proxy:3128"
    assert redact_proxy(f"u:{SECRET}@proxy:3128") == "***@proxy:3128"
    assert SECRET not in redact_proxy(f"u:{SECRET}@proxy://x")


def test_captures_before_access_was_recorded_say_so_in_one_wording() -> None:
    assert BEFORE_ACCESS == WORKERS_BEFORE_ACCESS == seen_as(None) == seen_as("garbage")
    assert seen_as({"session": False, "proxy": False}) == "anonymous, direct"

