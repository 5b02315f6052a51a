"""Canonical target keys: our URL -> key table, and agreement with yt-dlp's own test URLs."""

from __future__ import annotations

import random

import pytest
from yt_dlp.extractor.facebook import FacebookIE
from yt_dlp.extractor.youtube import YoutubeIE

import preserver.ingest.targets as targets_module
from preserver.errors import InvalidURL
from preserver.ingest.targets import TargetKey, canonical_target
from tests.support.target_keys import TABLE
from tests.support.ytdlp_urls import CASES, YTDLP_EXCLUDED, Case, agreement, our_key


@pytest.mark.parametrize(("url", "key", "canonical"), TABLE)
def test_url_to_key(url: str, key: str, canonical: str) -> None:
    target = canonical_target(url)
    assert (target.key, target.url) == (key, canonical)
    assert target.platform == key.split(":")[0].removesuffix("-url")
    # the canonical URL is a fixed point: capturing it names the same target
    assert canonical_target(target.url) == target


@pytest.mark.parametrize(
    ("literal", "encoded"),
    [
        pytest.param("https://ar.wikipedia.org/wiki/مجزرة_دوما",
                     "https://ar.wikipedia.org/wiki/%D9%85%D8%AC%D8%B2%D8%B1%D8%A9_%D8%AF%D9%88%D9%85%D8%A7",
                     id="wiki-path"),
        pytest.param("https://www.aljazeera.net/news/2015/8/16/مجزرة-دوما-تحصد",
                     "https://www.aljazeera.net/news/2015/8/16/%d9%85%d8%ac%d8%b2%d8%b1%d8%a9-%d8%af%d9%88"
                     "%d9%85%d8%a7-%d8%aa%d8%ad%d8%b5%d8%af",
                     id="news-slug-lower-case-escapes"),
        pytest.param("https://example.org/search?q=دوما&lang=ar",
                     "https://example.org/search?q=%D8%AF%D9%88%D9%85%D8%A7&lang=ar", id="query-value"),
        pytest.param("https://example.org/search?q=دوما&utm_source=x#نتائج",
                     "https://example.org/search?q=%D8%AF%D9%88%D9%85%D8%A7", id="tracking-and-fragment"),
        pytest.param("https://example.org/wiki/%D8%AFوما",
                     "https://example.org/wiki/%D8%AF%D9%88%D9%85%D8%A7", id="partly-encoded"),
        pytest.param("https://fa.wikipedia.org/wiki/دوما_(سوریه)",
                     "https://fa.wikipedia.org/wiki/%D8%AF%D9%88%D9%85%D8%A7_(%D8%B3%D9%88%D8%B1%DB%8C%D9%87)",
                     id="persian"),
        pytest.param("https://ur.wikipedia.org/wiki/پاکستان",
                     "https://ur.wikipedia.org/wiki/%D9%BE%D8%A7%DA%A9%D8%B3%D8%AA%D8%A7%D9%86", id="urdu"),
        pytest.param("https://ar.wikipedia.org/wiki/دُومَا",
                     "https://ar.wikipedia.org/wiki/%D8%AF%D9%8F%D9%88%D9%85%D9%8E%D8%A7", id="harakat"),
    ],
)
def test_literal_and_percent_encoded_non_ascii_give_one_key(literal: str, encoded: str) -> None:
    target = canonical_target(literal)
    assert target == canonical_target(encoded)
    assert target.key.isascii() and target.url.isascii()
    assert target.platform == "web" and target.key == f"web:{target.url}"
    assert canonical_target(target.url) == target
    assert target.url.lower() == encoded.lower()  # the encoded form, escapes upper-cased


def test_time_offset_is_not_part_of_the_key() -> None:
    plain = canonical_target("https://youtu.be/q2R2Pseg7YM")
    assert canonical_target("https://youtu.be/q2R2Pseg7YM?t=69") == plain
    assert canonical_target("https://www.youtube.com/watch?v=q2R2Pseg7YM&t=1m9s") == plain
    assert canonical_target("https://www.youtube.com/embed/q2R2Pseg7YM?start=69") == plain


def test_target_is_frozen_and_keyword_only() -> None:
    target = TargetKey(key="web:https://a.org/", url="https://a.org/", platform="web")
    with pytest.raises(AttributeError, match="cannot assign"):
        target.key = "x"  # type: ignore[misc]
    with pytest.raises(TypeError, match="positional"):
        TargetKey("web:x", "x", "web")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty URL"),
        ("   ", "empty URL"),
        ("ftp://example.org/file", "not an http"),
        ("mailto:info@example.org", "not an http"),
        ("javascript:alert(1)", "not an http"),
        ("youtu.be/u7qI99N8OM8", "no scheme"),
        ("BaW_jenozKc", "no scheme"),
        ("https://", "no host"),
        ("http:///path", "no host"),
        ("https://exa mple.org/", "whitespace"),
        ("https://example.org/\u200bx", "control characters"),
        ("https://example.org/\x00", "control characters"),
        ("https://example.org/\ud800", "control characters"),  # a lone surrogate
        ("http://[::1/", "not a valid URL"),
        ("http://example.org:99999/", "not a valid URL"),
        ("http://example.org:port/", "not a valid URL"),
        ("https://exa..mple.org/", "invalid host"),
        ("https://-bad-.org/", "invalid host"),
        ("https://a%20b.org/", "invalid host"),
        ("https://" + "a" * 64 + ".org/", "invalid host"),
        ("https://example.org/" + "a" * 9000, "over the limit of 8192"),
    ],
)
def test_invalid_urls(url: str, message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        canonical_target(url)


# ---------------------------------------------------------------------------
# Agreement with yt-dlp: for every URL in the YouTube and Facebook extractors'
# own tests that the extractor accepts with an id, our key is "<platform>:<id>",
# except for the cases in tests/support/ytdlp_urls.py, each excluded on purpose.


@pytest.mark.parametrize("case", [c for c in CASES if c.url not in YTDLP_EXCLUDED],
                         ids=lambda c: c.url[:80])
def test_agrees_with_ytdlp(case: Case) -> None:
    target = canonical_target(case.url)
    assert target.key == f"{case.platform}:{case.ytdlp_id}"
    if case.platform == "youtube":  # and yt-dlp reads our canonical URL as the same video
        assert YoutubeIE.get_temp_id(target.url) == case.ytdlp_id


@pytest.mark.parametrize("url", sorted(YTDLP_EXCLUDED))
def test_ytdlp_exclusions_behave_as_stated(url: str) -> None:
    assert any(c.url == url for c in CASES), "exclusion no longer in yt-dlp's tests: drop it"
    assert our_key(url).startswith(YTDLP_EXCLUDED[url].expected)


def test_ytdlp_agreement_counts() -> None:
    counts = agreement()
    assert counts == {"youtube": (59, 59), "facebook": (32, 32)}
    assert len(CASES) == 59 + 32 + len(YTDLP_EXCLUDED)


def test_facebook_canonical_urls_are_read_by_ytdlp() -> None:
    """Video, post, story and group URLs we produce are ones yt-dlp's extractor accepts."""
    for url in (
        "https://www.facebook.com/dchrs/videos/902054899875426/",
        "https://www.facebook.com/dchrs/posts/902054899875426",
        "https://m.facebook.com/story.php?story_fbid=901933866554196&id=100064",
        "https://www.facebook.com/groups/douma/permalink/901933866554196/",
    ):
        target = canonical_target(url)
        assert f"facebook:{FacebookIE.get_temp_id(target.url)}" == target.key


def test_random_text_gives_a_target_or_invalid_url_and_targets_are_fixed_points() -> None:
    rng = random.Random(20150816)
    pieces = [*"htps:/wyoutbe.cmfaki?v=&#%[]()@!-_09AZ ", "\u200b", "د", "\x00", "\ud800",
              "xn--", "::1", "%zz", "%D8", "watch?v=", "posts/", "pfbid0", "attribution_link?u="]
    prefixes = ["https://", "http://", "//", "HTTPS://WWW.YOUTUBE.COM/", "https://m.facebook.com/",
                "https://[", "http://x:", "https://youtube.com/attribution_link?u=", ""]
    valid = 0
    for _ in range(20_000):
        url = rng.choice(prefixes) + "".join(rng.choices(pieces, k=rng.randint(0, 25)))
        try:
            target = canonical_target(url)
        except InvalidURL:
            continue
        valid += 1
        assert canonical_target(target.url) == target, url
        assert target.key.startswith(f"{target.platform}:") or target.key.startswith(
            "facebook-url:"
        )
    assert valid > 1000


def test_public_names() -> None:
    assert targets_module.__all__ == ["MAX_URL_LENGTH", "TargetKey", "canonical_target"]
