"""Canonical target keys: our URL -> key table, and agreement with yt-dlp's own test URLs."""

from __future__ import annotations

import random

import pytest
from yt_dlp.extractor.facebook import FacebookIE
from yt_dlp.extractor.youtube import YoutubeIE

import preserver.ingest.targets as targets_module
from preserver.errors import InvalidURL
from preserver.ingest.targets import TargetKey, canonical_target
from tests.support.ytdlp_urls import CASES, YTDLP_EXCLUDED, Case, agreement, our_key

YT = "https://www.youtube.com/watch?v="
V = "IscNRmrlxBk"

# (cited URL, key, canonical URL)
TABLE: list[tuple[str, str, str]] = [
    # YouTube: every form names the 11-character id; the URL is always watch?v=
    ("https://youtu.be/u7qI99N8OM8", "youtube:u7qI99N8OM8", YT + "u7qI99N8OM8"),
    ("http://youtu.be/iBmJQiZPTCs", "youtube:iBmJQiZPTCs", YT + "iBmJQiZPTCs"),
    ("https://youtu.be/q2R2Pseg7YM?t=69", "youtube:q2R2Pseg7YM", YT + "q2R2Pseg7YM"),
    ("https://youtu.be/q2R2Pseg7YM?si=AbCdEf12&t=1m9s", "youtube:q2R2Pseg7YM", YT + "q2R2Pseg7YM"),
    ("https://YOUTU.BE/VHQc6Y3b-Rg/", "youtube:VHQc6Y3b-Rg", YT + "VHQc6Y3b-Rg"),
    ("https://www.youtu.be/Qpa57xVb_5g#t=30", "youtube:Qpa57xVb_5g", YT + "Qpa57xVb_5g"),
    ("https://www.youtube.com/watch?v=vjjKZjrLJXU", "youtube:vjjKZjrLJXU", YT + "vjjKZjrLJXU"),
    ("https://www.youtube.com/watch?feature=share&v=vjjKZjrLJXU&t=69s", "youtube:vjjKZjrLJXU",
     YT + "vjjKZjrLJXU"),
    ("https://youtube.com/watch?v=vjjKZjrLJXU&amp;feature=youtu.be", "youtube:vjjKZjrLJXU",
     YT + "vjjKZjrLJXU"),
    ("https://m.youtube.com/watch?v=BmtIvHrHOdk", "youtube:BmtIvHrHOdk", YT + "BmtIvHrHOdk"),
    ("https://music.youtube.com/watch?v=BmtIvHrHOdk", "youtube:BmtIvHrHOdk", YT + "BmtIvHrHOdk"),
    ("https://gaming.youtube.com/watch?v=BmtIvHrHOdk", "youtube:BmtIvHrHOdk", YT + "BmtIvHrHOdk"),
    ("https://www.youtube.com/shorts/IscNRmrlxBk", "youtube:IscNRmrlxBk", YT + V),
    ("https://www.youtube.com/embed/IscNRmrlxBk?start=35", "youtube:IscNRmrlxBk", YT + V),
    ("https://www.youtube.com/live/IscNRmrlxBk?feature=share", "youtube:IscNRmrlxBk",
     YT + V),
    ("https://www.youtube.com/v/IscNRmrlxBk&hl=en_US&fs=1", "youtube:IscNRmrlxBk", YT + V),
    ("https://www.youtube.com/e/IscNRmrlxBk", "youtube:IscNRmrlxBk", YT + V),
    ("https://www.youtube.com/watch_popup?v=IscNRmrlxBk", "youtube:IscNRmrlxBk", YT + V),
    ("https://www.youtube.com/#!v=IscNRmrlxBk", "youtube:IscNRmrlxBk", YT + V),
    ("https://www.youtube-nocookie.com/embed/IscNRmrlxBk", "youtube:IscNRmrlxBk", YT + V),
    ("https://www.youtubekids.com/watch?v=IscNRmrlxBk", "youtube:IscNRmrlxBk", YT + V),
    ("https://youtube.googleapis.com/v/IscNRmrlxBk", "youtube:IscNRmrlxBk", YT + V),
    ("//www.youtube.com/embed/IscNRmrlxBk", "youtube:IscNRmrlxBk", YT + V),
    ("https://www.youtube.com/attribution_link?a=x&u=%2Fwatch%3Fv%3DIscNRmrlxBk%26feature%3Dshare",
     "youtube:IscNRmrlxBk", YT + V),
    # YouTube pages that name no video are web pages
    ("https://www.youtube.com/embed/videoseries?list=PL1",
     "web:https://www.youtube.com/embed/videoseries?list=PL1",
     "https://www.youtube.com/embed/videoseries?list=PL1"),
    ("https://www.youtube.com/@dchrs", "web:https://www.youtube.com/@dchrs",
     "https://www.youtube.com/@dchrs"),
    ("https://youtu.be/abc", "web:https://youtu.be/abc", "https://youtu.be/abc"),
    ("https://www.youtube.com/watch?v=tooshort", "web:https://www.youtube.com/watch?v=tooshort",
     "https://www.youtube.com/watch?v=tooshort"),
    # Facebook: numeric and pfbid ids
    ("https://www.facebook.com/902054899875426", "facebook:902054899875426",
     "https://www.facebook.com/902054899875426"),
    ("https://m.facebook.com/902054899875426/", "facebook:902054899875426",
     "https://www.facebook.com/902054899875426"),
    ("https://www.facebook.com/dchrs/videos/902054899875426/", "facebook:902054899875426",
     "https://www.facebook.com/watch/?v=902054899875426"),
    ("https://www.facebook.com/watch/?v=902054899875426", "facebook:902054899875426",
     "https://www.facebook.com/watch/?v=902054899875426"),
    ("https://www.facebook.com/watch?v=902054899875426&ref=sharing", "facebook:902054899875426",
     "https://www.facebook.com/watch/?v=902054899875426"),
    ("https://web.facebook.com/video.php?v=902054899875426", "facebook:902054899875426",
     "https://www.facebook.com/watch/?v=902054899875426"),
    ("https://www.facebook.com/reel/902054899875426?fbclid=x", "facebook:902054899875426",
     "https://www.facebook.com/watch/?v=902054899875426"),
    ("https://mbasic.facebook.com/story.php?story_fbid=901933866554196&id=100064",
     "facebook:901933866554196",
     "https://www.facebook.com/permalink.php?story_fbid=901933866554196&id=100064"),
    ("https://www.facebook.com/photo.php?fbid=901933866554196&set=a.1", "facebook:901933866554196",
     "https://www.facebook.com/photo.php?fbid=901933866554196"),
    ("https://www.facebook.com/dchrs/photos/a.123/901933866554196/", "facebook:901933866554196",
     "https://www.facebook.com/photo.php?fbid=901933866554196"),
    ("https://www.facebook.com/dchrs/posts/pfbid02abcDEF123", "facebook:pfbid02abcDEF123",
     "https://www.facebook.com/dchrs/posts/pfbid02abcDEF123"),
    ("https://www.facebook.com/groups/douma/permalink/901933866554196/", "facebook:901933866554196",
     "https://www.facebook.com/groups/douma/posts/901933866554196/"),
    ("https://www.facebook.com/#!/video.php?v=902054899875426", "facebook:902054899875426",
     "https://www.facebook.com/watch/?v=902054899875426"),
    # Facebook short forms and pages without an id: resolved by a capture
    ("https://fb.watch/abcDEF123/", "facebook-url:https://fb.watch/abcDEF123/",
     "https://fb.watch/abcDEF123/"),
    ("https://www.facebook.com/share/v/1AbCdEf/",
     "facebook-url:https://www.facebook.com/share/v/1AbCdEf/",
     "https://www.facebook.com/share/v/1AbCdEf/"),
    ("https://m.facebook.com/dchrs?fbclid=abc", "facebook-url:https://www.facebook.com/dchrs",
     "https://www.facebook.com/dchrs"),
    # web: normalized
    ("HTTP://Example.ORG:80/a/b?utm_source=x&b=2&a=1&fbclid=y#frag", "web:http://example.org/a/b?b=2&a=1",
     "http://example.org/a/b?b=2&a=1"),
    ("https://example.org:443", "web:https://example.org/", "https://example.org/"),
    ("https://user:secret@example.org/x", "web:https://example.org/x", "https://example.org/x"),
    ("http://127.0.0.1:8080/clip.mp4", "web:http://127.0.0.1:8080/clip.mp4",
     "http://127.0.0.1:8080/clip.mp4"),
    ("http://[::1]:8080/", "web:http://[::1]:8080/", "http://[::1]:8080/"),
    ("https://ar.wikipedia.org/wiki/دوما", "web:https://ar.wikipedia.org/wiki/%D8%AF%D9%88%D9%85%D8%A7",
     "https://ar.wikipedia.org/wiki/%D8%AF%D9%88%D9%85%D8%A7"),
    ("https://ar.wikipedia.org/wiki/%d8%af%d9%88%d9%85%d8%a7",
     "web:https://ar.wikipedia.org/wiki/%D8%AF%D9%88%D9%85%D8%A7",
     "https://ar.wikipedia.org/wiki/%D8%AF%D9%88%D9%85%D8%A7"),
    ("https://en.wikipedia.org/wiki/Douma_(city)", "web:https://en.wikipedia.org/wiki/Douma_(city)",
     "https://en.wikipedia.org/wiki/Douma_(city)"),
    ("https://دمشق.example/تقرير", "web:https://xn--ugbk6bk.example/%D8%AA%D9%82%D8%B1%D9%8A%D8%B1",
     "https://xn--ugbk6bk.example/%D8%AA%D9%82%D8%B1%D9%8A%D8%B1"),
    ("https://notyoutube.com/watch?v=IscNRmrlxBk", "web:https://notyoutube.com/watch?v=IscNRmrlxBk",
     "https://notyoutube.com/watch?v=IscNRmrlxBk"),
    ("https://example.org/?si=1&utm_medium=2", "web:https://example.org/", "https://example.org/"),
]


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
