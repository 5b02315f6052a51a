"""yt-dlp's own test URLs for its YouTube and Facebook extractors, and the ones we key
differently on purpose: data for ``tests/preserver/test_targets.py`` (which asserts the
agreement) and ``bench/url_forms.py`` (which prints it)."""

from __future__ import annotations

from dataclasses import dataclass

from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.extractor.facebook import FacebookIE
from yt_dlp.extractor.youtube import YoutubeIE

from preserver.errors import InvalidURL
from preserver.ingest.targets import canonical_target

BARE_ID = "a bare video id, not a URL: reports never cite one that way"
MIRROR = "a third-party front-end, not YouTube: we capture the page that was cited (web:)"


@dataclass(frozen=True)
class Exclusion:
    reason: str
    expected: str  # what we do instead: "InvalidURL" or the key prefix we give


YTDLP_EXCLUDED: dict[str, Exclusion] = {
    "__2ABJjxzNo": Exclusion(BARE_ID, "InvalidURL"),
    "lqQg6PlCWgI": Exclusion(BARE_ID, "InvalidURL"),
    "qEJwOuvDf7I": Exclusion(BARE_ID, "InvalidURL"),
    "1t24XAntNCY": Exclusion(BARE_ID, "InvalidURL"),
    "sJL6WA-aGkQ": Exclusion(BARE_ID, "InvalidURL"),
    "DJztXj2GPfl": Exclusion(BARE_ID, "InvalidURL"),
    "OtqTfy26tG0": Exclusion(BARE_ID, "InvalidURL"),
    "cBvYw8_A0vQ": Exclusion(BARE_ID, "InvalidURL"),
    "WaOKSUlf4TM": Exclusion(BARE_ID, "InvalidURL"),
    "https://vid.plus/FlRa-iH7PGw": Exclusion(MIRROR, "web:"),
    "https://zwearz.com/watch/9lWxNJF-ufM/electra-woman-dyna-girl-official-trailer-grace-helbig"
    ".html": Exclusion(MIRROR, "web:"),
    "https://invidio.us/watch?v=YE7VzlLtp-4": Exclusion(MIRROR, "web:"),
    "https://redirect.invidious.io/watch?v=YE7VzlLtp-4": Exclusion(MIRROR, "web:"),
    "https://redirect.invidious.io/Yh0AhrY9GjA": Exclusion(MIRROR, "web:"),
    "facebook:544765982287235": Exclusion(
        "yt-dlp's internal 'facebook:<id>' form, not a URL", "InvalidURL"
    ),
}


@dataclass(frozen=True)
class Case:
    platform: str
    url: str
    ytdlp_id: str


def ytdlp_cases() -> list[Case]:
    """The extractors' test URLs that they accept with an id."""
    cases = []
    extractors: list[tuple[str, type[InfoExtractor]]] = [
        ("youtube", YoutubeIE),
        ("facebook", FacebookIE),
    ]
    for platform, ie in extractors:
        for test in ie.get_testcases(include_onlymatching=True):
            url = test["url"]
            if ie.suitable(url) and (found := ie.get_temp_id(url)):
                cases.append(Case(platform, url, found))
    return cases


CASES = ytdlp_cases()


def our_key(url: str) -> str:
    try:
        return canonical_target(url).key
    except InvalidURL:
        return "InvalidURL"


def agreement() -> dict[str, tuple[int, int]]:
    """platform -> (agreeing, compared) over the non-excluded cases."""
    out: dict[str, tuple[int, int]] = {}
    for case in CASES:
        if case.url in YTDLP_EXCLUDED:
            continue
        agree, total = out.get(case.platform, (0, 0))
        out[case.platform] = (agree + (our_key(case.url) == f"{case.platform}:{case.ytdlp_id}"),
                              total + 1)
    return out
