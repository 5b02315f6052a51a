"""The platform table, and that link extraction, target keys and politeness agree with it.

For every host of the table (and its usual subdomains) and every URL form of the
target-key table, the platform the table names, the platform of the target key
``canonical_target`` gives and the politeness group ``host_group`` gives are the
same; the extractor finds the URL without a scheme exactly on the hosts reports
cite.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from preserver.ingest.links import extract_links
from preserver.ingest.targets import canonical_target
from tests.support.target_keys import TABLE
from workers.limits import host_group
from workers.platforms import (
    PLATFORM_HOSTS,
    HostRole,
    Platform,
    PlatformHost,
    cited_hosts,
    platform_host,
    platform_of,
    platform_url,
    politeness_group,
    youtube_watch_url,
)

V = "IscNRmrlxBk"
FB_ID = "902054899875426"
# (path and query, expected key) of URLs that name an item, by (platform, role)
ITEMS: dict[tuple[Platform, HostRole], list[tuple[str, str]]] = {
    (Platform.YOUTUBE, HostRole.SITE): [(f"/watch?v={V}", f"youtube:{V}"),
                                        (f"/embed/{V}", f"youtube:{V}")],
    (Platform.YOUTUBE, HostRole.SHORT): [(f"/{V}", f"youtube:{V}")],
    (Platform.FACEBOOK, HostRole.SITE): [
        (f"/{FB_ID}", f"facebook:{FB_ID}"),
        ("/share/v/1AbCdEf/", "facebook-url:https://www.facebook.com/share/v/1AbCdEf/"),
    ],
    (Platform.FACEBOOK, HostRole.SHORT): [("/abcDEF123/", "facebook-url:https://{host}/abcDEF123/")],
}
SUBDOMAINS = {Platform.YOUTUBE: ["www.", "m.", "music.", "gaming."],
              Platform.FACEBOOK: ["www.", "m.", "web.", "mbasic."]}


@dataclass(frozen=True)
class HostCase:
    host: str
    row: PlatformHost


def host_cases() -> list[HostCase]:
    """Every row's domain, and the subdomains reports and platforms use where the row has them."""
    cases = []
    for row in PLATFORM_HOSTS:
        prefixes = [""]
        if row.subdomains:
            prefixes += SUBDOMAINS[row.platform] if row.cited else ["rr3---sn-4g5e6nz7.", "static."]
        cases += [HostCase(prefix + row.domain, row) for prefix in prefixes]
    return cases


@pytest.mark.parametrize("case", host_cases(), ids=lambda c: c.host)
def test_table_hosts_agree_everywhere(case: HostCase) -> None:
    host, row = case.host, case.row
    assert platform_host(host) == row and platform_host(host.upper() + ".") == row
    assert platform_of(host) == row.platform == row.group
    if not row.cited:  # a media server: same group, but its URLs name no item
        url = f"https://{host}/videoplayback?id={V}&v={V}"
        assert host_group(url) == row.platform
        assert canonical_target(url).key == f"web:{url}"
        assert extract_links(f"{host}/videoplayback") == []
        return
    for path, key in ITEMS[row.platform, row.role]:
        url = f"https://{host}{path}"
        target = canonical_target(url)
        assert target.key == key.format(host=host)
        assert target.platform == row.platform
        assert host_group(url) == row.platform
        assert host_group(target.url) == row.platform  # the URL a capture fetches
        # cited without a scheme and with Arabic glued on, the extractor finds exactly it
        (link,) = extract_links(f"الرابط {host}{path}الفيديو")
        assert link.url == url


@pytest.mark.parametrize("url", [row[0] for row in TABLE], ids=lambda u: u[:60])
def test_target_key_forms_agree_with_the_table(url: str) -> None:
    """Each URL form of the target-key table: key platform, table platform and group agree."""
    target = canonical_target(url)
    host = urlsplit(url if "://" in url else "https:" + url).hostname or ""
    family = target.key.split(":")[0].removesuffix("-url")
    assert family == target.platform
    if target.platform != Platform.WEB:
        assert platform_of(host) == target.platform
        assert host_group(url) == host_group(target.url) == target.platform
    elif platform_of(host) == Platform.WEB:
        assert host_group(url) == politeness_group(host) == host
    else:  # a platform's page that names no item (a channel): still the platform's traffic
        assert host_group(url) == platform_of(host)


@pytest.mark.parametrize(
    "host",
    ["notyoutube.com", "youtube.com.evil.example", "fb.me.example", "notfb.me", "googleapis.com",
     "x.youtube.googleapis.com", "facebook.onion", "example.org", "127.0.0.1"],
)
def test_other_hosts_are_web_and_their_own_group(host: str) -> None:
    assert platform_host(host) is None
    assert platform_of(host) == Platform.WEB
    assert host_group(f"https://{host}:8443/{V}") == politeness_group(host) == host
    assert canonical_target(f"https://{host}/watch?v={V}").platform == Platform.WEB
    assert extract_links(f"{host}/watch?v={V}") == []


def test_the_table_is_well_formed() -> None:
    domains = [row.domain for row in PLATFORM_HOSTS]
    assert len(set(domains)) == len(domains)
    for row in PLATFORM_HOSTS:
        assert row.domain == row.domain.lower().strip(".") and row.domain.isascii()
        assert row.platform != Platform.WEB
        # no row hides under another: each domain is found as its own row
        assert platform_host(row.domain) == row
    assert cited_hosts() == tuple(r for r in PLATFORM_HOSTS if r.role is not HostRole.MEDIA)
    assert {r.platform for r in cited_hosts()} == {Platform.YOUTUBE, Platform.FACEBOOK}


def test_canonical_urls() -> None:
    assert youtube_watch_url(V) == f"https://www.youtube.com/watch?v={V}"
    assert platform_url(Platform.FACEBOOK, "/1") == "https://www.facebook.com/1"
    with pytest.raises(ValueError, match="'web' has no canonical host"):
        platform_url(Platform.WEB, "/")


def test_platform_host_is_frozen_and_keyword_only() -> None:
    row = PLATFORM_HOSTS[0]
    with pytest.raises(AttributeError, match="cannot assign"):
        row.domain = "example.org"  # type: ignore[misc]
    with pytest.raises(TypeError, match="positional"):
        PlatformHost("example.org", Platform.YOUTUBE, HostRole.SITE)  # type: ignore[misc]
