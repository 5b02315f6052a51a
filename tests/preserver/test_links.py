"""Link extraction with citation context: reports in the shape of real ones, and hostile text."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest

import preserver.ingest.links as links_module
from preserver.errors import InvalidURL
from preserver.ingest.links import FoundLink, extract_links
from preserver.ingest.targets import MAX_URL_LENGTH, canonical_target
from tests.support.douma import DOUMA
from tests.support.hostile_text import HOSTILE_LINES

DATA = Path(__file__).parent / "data"

ZWSP, ZWNJ, ZWJ, BOM = "\u200b", "\u200c", "\u200d", "\ufeff"
LRM, RLM = "\u200e", "\u200f"
LRE, RLE, PDF, LRO, RLO = "\u202a", "\u202b", "\u202c", "\u202d", "\u202e"
LRI, RLI, FSI, PDI = "\u2066", "\u2067", "\u2068", "\u2069"

# market_strike.ar.txt: (line, label, url, start_seconds)
ENTRY_1 = "1- سليم عبد الرحمن الخطيب"
ENTRY_3 = "3- ياسين العمر أبو علي"
BURIAL = "فيديو يظهر تشييع الضحايا في مقبرة البلدة 14-3-2016م"
RUINS = "فيديوهات تظهر آثار الدمار في السوق بعد الغارات"
EXPECTED = [
    (5, ENTRY_1, "https://www.facebook.com/100004521987310", None),
    (6, ENTRY_1, "https://youtu.be/Xq3vT9aLm2Q", None),
    (9, ENTRY_3, "https://youtu.be/b7RkP0wZs4E", None),
    (10, ENTRY_3, "https://youtu.be/Lm9_Qz2Vx8c", None),
    (12, "4- الطفل مازن الحسن", "http://youtu.be/T5hY-1nBq0w", None),
    (14, "5-رامي النجار", "https://www.youtube.com/watch?v=Pz8cW3kD2uJ", None),
    (17, "7- وائل قاسم", "https://youtu.be/b7RkP0wZs4E", None),
    (19, "٨- عدنان يوسف", "https://www.facebook.com/100004521987355", None),
    (22, "10) فاطمة الزين", "https://youtu.be/Qa1sD2fG3hJ", None),
    (24, BURIAL, "https://youtu.be/Rk4tY7uI9oP?t=69", 69),
    (26, RUINS, "https://youtu.be/Zx6cV8bN0mA", None),
    (27, RUINS, "https://youtu.be/Wq2eR4tY6uI?t=1m5s", 65),
]


def one(text: str) -> FoundLink:
    links = extract_links(text)
    assert len(links) == 1, links
    return links[0]


def raws(text: str) -> list[str]:
    return [link.raw_url for link in extract_links(text)]


def test_report_in_the_douma_shape() -> None:
    text = (DATA / "market_strike.ar.txt").read_text(encoding="utf-8")
    links = extract_links(text)
    assert [(f.line, f.label, f.url, f.start_seconds) for f in links] == EXPECTED
    lines = text.split("\n")
    for link in links:
        assert text[link.offset : link.offset + len(link.raw_url)] == link.raw_url
        assert link.raw_url in lines[link.line - 1]
        assert link.url == link.raw_url  # all written with a scheme
    # the same video under two entries: two citations, one target
    by_key: dict[str, list[str]] = defaultdict(list)
    for link in links:
        by_key[canonical_target(link.url).key].append(link.label)
    assert by_key["youtube:b7RkP0wZs4E"] == [ENTRY_3, "7- وائل قاسم"]
    assert len(by_key) == len(links) - 1
    # the e-mail in the contact section is not a link
    assert not any("example.org" in link.url for link in links)


def test_real_douma_report() -> None:
    if not DOUMA.exists():
        pytest.skip(f"the shared Douma report is not here: {DOUMA}")
    text = DOUMA.read_text(encoding="utf-8")
    links = extract_links(text)
    assert len(links) == sum("http" in line for line in text.split("\n")) == 42
    keys = [canonical_target(link.url).key for link in links]
    assert len(set(keys)) == 41
    platforms = {key.split(":")[0] for key in keys}
    assert platforms == {"youtube", "facebook"}
    assert sum(k.startswith("youtube:") for k in set(keys)) == 31
    labels = [link.label for link in links if link.url.endswith("u7qI99N8OM8")]
    assert len(labels) == 2 and len(set(labels)) == 2
    assert labels[0].startswith("5- ") and labels[1].startswith("64- ")
    assert all(link.label for link in links)
    assert [link.start_seconds for link in links if link.start_seconds] == [69, 35]


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("شاهد الفيديوhttps://youtu.be/Xq3vT9aLm2Q", "https://youtu.be/Xq3vT9aLm2Q"),
        ("https://youtu.be/Xq3vT9aLm2Qالفيديو الثاني", "https://youtu.be/Xq3vT9aLm2Q"),
        ("الفيديوhttps://youtu.be/Xq3vT9aLm2Qالفيديو", "https://youtu.be/Xq3vT9aLm2Q"),
        ("الرابطyoutu.be/Xq3vT9aLm2Qهنا", "youtu.be/Xq3vT9aLm2Q"),
        ("الرابطwww.youtube.com/watch?v=Xq3vT9aLm2Qهنا", "www.youtube.com/watch?v=Xq3vT9aLm2Q"),
        ("https://youtu.be/Xq3vT9aLm2Q، وأيضاً", "https://youtu.be/Xq3vT9aLm2Q"),
        ("https://youtu.be/Xq3vT9aLm2Q؛", "https://youtu.be/Xq3vT9aLm2Q"),
        ("هل شاهدت https://youtu.be/Xq3vT9aLm2Q؟", "https://youtu.be/Xq3vT9aLm2Q"),
        ("https://youtu.be/Xq3vT9aLm2Q۔", "https://youtu.be/Xq3vT9aLm2Q"),
        ("(https://youtu.be/Xq3vT9aLm2Q)", "https://youtu.be/Xq3vT9aLm2Q"),
        ("[https://youtu.be/Xq3vT9aLm2Q]", "https://youtu.be/Xq3vT9aLm2Q"),
        ("{https://youtu.be/Xq3vT9aLm2Q}", "https://youtu.be/Xq3vT9aLm2Q"),
        ("<https://youtu.be/Xq3vT9aLm2Q>", "https://youtu.be/Xq3vT9aLm2Q"),
        ("«https://youtu.be/Xq3vT9aLm2Q»", "https://youtu.be/Xq3vT9aLm2Q"),
        ("(انظر https://youtu.be/Xq3vT9aLm2Q).", "https://youtu.be/Xq3vT9aLm2Q"),
        ("(https://en.wikipedia.org/wiki/Douma_(city))", "https://en.wikipedia.org/wiki/Douma_(city)"),
        ("see https://en.wikipedia.org/wiki/Douma_(city).", "https://en.wikipedia.org/wiki/Douma_(city)"),
        ("https://youtu.be/Xq3vT9aLm2Q.", "https://youtu.be/Xq3vT9aLm2Q"),
        ("https://youtu.be/Xq3vT9aLm2Q...", "https://youtu.be/Xq3vT9aLm2Q"),
        ("https://youtu.be/Xq3vT9aLm2Q,", "https://youtu.be/Xq3vT9aLm2Q"),
        ("https://youtu.be/Xq3vT9aLm2Q!?", "https://youtu.be/Xq3vT9aLm2Q"),
        ('"https://youtu.be/Xq3vT9aLm2Q"', "https://youtu.be/Xq3vT9aLm2Q"),
        ("'https://youtu.be/Xq3vT9aLm2Q'", "https://youtu.be/Xq3vT9aLm2Q"),
        ("“https://youtu.be/Xq3vT9aLm2Q”", "https://youtu.be/Xq3vT9aLm2Q"),
        ("**https://youtu.be/Xq3vT9aLm2Q**", "https://youtu.be/Xq3vT9aLm2Q"),
        ("https://youtu.be/Xq3vT9aLm2Q:", "https://youtu.be/Xq3vT9aLm2Q"),
        ("https://youtu.be/Xq3vT9aLm2Q?t=69.", "https://youtu.be/Xq3vT9aLm2Q?t=69"),
        ("https://youtu.be/Xq3vT9aLm2Q_", "https://youtu.be/Xq3vT9aLm2Q_"),  # ids may end in _
        ("https://example.org/a?b=(1)&c=[2]", "https://example.org/a?b=(1)&c=[2]"),
        ("\thttps://youtu.be/Xq3vT9aLm2Q\u00a0بعد", "https://youtu.be/Xq3vT9aLm2Q"),
    ],
)
def test_url_boundaries(text: str, raw: str) -> None:
    link = one(text)
    assert link.raw_url == raw
    assert text[link.offset : link.offset + len(raw)] == raw


WIKI_DOUMA = "https://ar.wikipedia.org/wiki/%D8%AF%D9%88%D9%85%D8%A7"


@pytest.mark.parametrize(
    ("text", "raw", "key"),
    [
        pytest.param(
            "انظر https://ar.wikipedia.org/wiki/مجزرة_دوما للمزيد",
            "https://ar.wikipedia.org/wiki/مجزرة_دوما",
            "web:https://ar.wikipedia.org/wiki/%D9%85%D8%AC%D8%B2%D8%B1%D8%A9_%D8%AF%D9%88%D9%85%D8%A7",
            id="wiki-path",
        ),
        pytest.param(
            "الخبر: https://www.aljazeera.net/news/2015/8/16/مجزرة-دوما-تحصد",
            "https://www.aljazeera.net/news/2015/8/16/مجزرة-دوما-تحصد",
            "web:https://www.aljazeera.net/news/2015/8/16/"
            "%D9%85%D8%AC%D8%B2%D8%B1%D8%A9-%D8%AF%D9%88%D9%85%D8%A7-%D8%AA%D8%AD%D8%B5%D8%AF",
            id="news-slug",
        ),
        pytest.param(
            "ابحث في https://example.org/search?q=دوما&lang=ar.",
            "https://example.org/search?q=دوما&lang=ar",
            "web:https://example.org/search?q=%D8%AF%D9%88%D9%85%D8%A7&lang=ar",
            id="query-value",
        ),
        pytest.param(
            "https://example.org?q=دوما", "https://example.org?q=دوما",
            "web:https://example.org/?q=%D8%AF%D9%88%D9%85%D8%A7", id="query-after-host",
        ),
        pytest.param(
            "https://ar.wikipedia.org/wiki/دوما، وهي مدينة في ريف دمشق",
            "https://ar.wikipedia.org/wiki/دوما", f"web:{WIKI_DOUMA}", id="arabic-comma",
        ),
        pytest.param(
            "https://ar.wikipedia.org/wiki/دوما؛ https://ar.wikipedia.org/wiki/دوما؟ ",
            "https://ar.wikipedia.org/wiki/دوما", f"web:{WIKI_DOUMA}", id="arabic-semicolon",
        ),
        pytest.param(
            "(انظر https://ar.wikipedia.org/wiki/دوما) للمزيد",
            "https://ar.wikipedia.org/wiki/دوما", f"web:{WIKI_DOUMA}", id="in-parentheses",
        ),
        pytest.param(
            "«https://ar.wikipedia.org/wiki/دوما»", "https://ar.wikipedia.org/wiki/دوما",
            f"web:{WIKI_DOUMA}", id="guillemets",
        ),
        pytest.param(
            "المصدر https://ar.wikipedia.org/wiki/دوما المدينة",
            "https://ar.wikipedia.org/wiki/دوما", f"web:{WIKI_DOUMA}", id="space-then-arabic",
        ),
        pytest.param(
            "https://ar.wikipedia.org/wiki/دوما\u00a0المدينة",
            "https://ar.wikipedia.org/wiki/دوما", f"web:{WIKI_DOUMA}", id="no-break-space",
        ),
        pytest.param(
            f"https://ar.wikipedia.org/wiki/دو{ZWSP}ما{RLM} المدينة",
            "https://ar.wikipedia.org/wiki/دوما", f"web:{WIKI_DOUMA}", id="invisible-controls",
        ),
        pytest.param(
            "https://ar.wikipedia.org/wiki/دُومَا.", "https://ar.wikipedia.org/wiki/دُومَا",
            "web:https://ar.wikipedia.org/wiki/%D8%AF%D9%8F%D9%88%D9%85%D9%8E%D8%A7", id="harakat",
        ),
        pytest.param(
            "https://ar.wikipedia.org/wiki/مجزرة_دوما_(٢٠١٥)", "https://ar.wikipedia.org/wiki/مجزرة_دوما_(٢٠١٥)",
            "web:https://ar.wikipedia.org/wiki/"
            "%D9%85%D8%AC%D8%B2%D8%B1%D8%A9_%D8%AF%D9%88%D9%85%D8%A7_(%D9%A2%D9%A0%D9%A1%D9%A5)",
            id="arabic-indic-digits",
        ),
        pytest.param(
            "https://fa.wikipedia.org/wiki/دوما_(سوریه) را ببینید",
            "https://fa.wikipedia.org/wiki/دوما_(سوریه)",
            "web:https://fa.wikipedia.org/wiki/%D8%AF%D9%88%D9%85%D8%A7_(%D8%B3%D9%88%D8%B1%DB%8C%D9%87)",
            id="persian",
        ),
        pytest.param(
            "دیکھیں https://ur.wikipedia.org/wiki/پاکستان۔",
            "https://ur.wikipedia.org/wiki/پاکستان",
            "web:https://ur.wikipedia.org/wiki/%D9%BE%D8%A7%DA%A9%D8%B3%D8%AA%D8%A7%D9%86",
            id="urdu-full-stop",
        ),
        pytest.param(
            "https://example.org/تقرير#القسم_الثاني، ثم", "https://example.org/تقرير#القسم_الثاني",
            "web:https://example.org/%D8%AA%D9%82%D8%B1%D9%8A%D8%B1", id="fragment",
        ),
        pytest.param(
            "https://example.orgالفيديو", "https://example.org", "web:https://example.org/",
            id="arabic-glued-to-bare-host",
        ),
        pytest.param(
            "https://example.org:8080الفيديو", "https://example.org:8080",
            "web:https://example.org:8080/", id="arabic-glued-to-port",
        ),
        pytest.param(
            "الرابطwww.example.org/تقرير", "www.example.org/تقرير",
            "web:https://www.example.org/%D8%AA%D9%82%D8%B1%D9%8A%D8%B1", id="scheme-less",
        ),
        pytest.param(
            "https://ar.wikipedia.org/wiki/دوماhttps://youtu.be/Xq3vT9aLm2Q",
            "https://ar.wikipedia.org/wiki/دوما", f"web:{WIKI_DOUMA}", id="glued-second-url",
        ),
    ],
)
def test_non_ascii_path_query_and_fragment(text: str, raw: str, key: str) -> None:
    link = extract_links(text)[0]
    assert link.raw_url == raw  # as written, Arabic kept
    assert text[link.offset :].replace(ZWSP, "").replace(RLM, "").startswith(raw)
    target = canonical_target(link.url)
    assert target.key == key and target.url == key.removeprefix("web:")
    assert target.key.isascii()


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("https://youtu.be/abcdefghijkالفيديو", "https://youtu.be/abcdefghijk"),
        ("https://www.youtube.com/watch?v=Xq3vT9aLm2Qالفيديو", "https://www.youtube.com/watch?v=Xq3vT9aLm2Q"),
        ("https://www.youtube.com/results?search_query=دوما", "https://www.youtube.com/results?search_query="),
        ("https://m.youtube.com/شاهد", "https://m.youtube.com/"),
        ("https://www.youtube-nocookie.com/embed/Xq3vT9aLm2Qهنا",
         "https://www.youtube-nocookie.com/embed/Xq3vT9aLm2Q"),
        ("https://www.youtubekids.com/watch?v=Xq3vT9aLm2Qهنا", "https://www.youtubekids.com/watch?v=Xq3vT9aLm2Q"),
        ("https://www.facebook.com/100004521987310الشهيد", "https://www.facebook.com/100004521987310"),
        ("https://ar-ar.facebook.com/dchrs/posts/902054899875426منشور",
         "https://ar-ar.facebook.com/dchrs/posts/902054899875426"),
        ("https://WWW.FACEBOOK.COM./100004521987310الشهيد", "https://WWW.FACEBOOK.COM./100004521987310"),
        ("https://user@www.facebook.com:443/100004521987310الشهيد",
         "https://user@www.facebook.com:443/100004521987310"),
        ("https://fb.watch/abcDEF123/الفيديو", "https://fb.watch/abcDEF123/"),
        ("https://fb.com/100004521987310الشهيد", "https://fb.com/100004521987310"),
        ("https://fb.me/abcDEFالشهيد", "https://fb.me/abcDEF"),
        ("m.facebook.com/100004521987310الشهيد", "m.facebook.com/100004521987310"),
        ("youtu.be/Xq3vT9aLm2Qالفيديو", "youtu.be/Xq3vT9aLm2Q"),
    ],
)
def test_platform_links_still_end_at_the_first_non_ascii_character(text: str, raw: str) -> None:
    assert one(text).raw_url == raw


@pytest.mark.parametrize(
    "written",
    [
        "https://ar.wikipedia.org/wiki/دوما",
        "https://ar.wikipedia.org/wiki/%D8%AF%D9%88%D9%85%D8%A7",
        "https://ar.wikipedia.org/wiki/%d8%af%d9%88%d9%85%d8%a7",
        "https://ar.wikipedia.org/wiki/%D8%AFوما",
    ],
)
def test_literal_and_percent_encoded_arabic_give_one_key(written: str) -> None:
    link = one(f"المصدر: {written}، انظر أيضاً")
    assert link.raw_url == written
    assert canonical_target(link.url).key == f"web:{WIKI_DOUMA}"


def test_arabic_query_literal_and_percent_encoded_give_one_key() -> None:
    literal, encoded = extract_links(
        "https://example.org/search?q=دوما https://example.org/search?q=%D8%AF%D9%88%D9%85%D8%A7"
    )
    assert literal.raw_url == "https://example.org/search?q=دوما"
    assert canonical_target(literal.url) == canonical_target(encoded.url)


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        (f"https://you{ZWSP}tu.be/Xq3vT9aLm2Q", "https://youtu.be/Xq3vT9aLm2Q"),
        (f"ht{ZWNJ}tps://youtu.be/Xq3vT9aLm2Q", "https://youtu.be/Xq3vT9aLm2Q"),
        (f"https://youtu.be/Xq3v{ZWJ}T9aLm2Q", "https://youtu.be/Xq3vT9aLm2Q"),
        (f"{BOM}https://youtu.be/Xq3vT9aLm2Q{BOM}", "https://youtu.be/Xq3vT9aLm2Q"),
        (f"الرابط {RLM}https://youtu.be/Xq3vT9aLm2Q{RLM} هنا", "https://youtu.be/Xq3vT9aLm2Q"),
        (f"{LRM}https://youtu.be/Xq3vT9aLm2Q{LRM}،", "https://youtu.be/Xq3vT9aLm2Q"),
        (f"{LRE}https://youtu.be/Xq3vT9aLm2Q{PDF}", "https://youtu.be/Xq3vT9aLm2Q"),
        (f"{RLE}{LRO}https://youtu.be/{RLO}Xq3vT9aLm2Q{PDF}{PDF}", "https://youtu.be/Xq3vT9aLm2Q"),
        (f"{LRI}https://youtu.be/Xq3vT9aLm2Q{PDI}الفيديو", "https://youtu.be/Xq3vT9aLm2Q"),
        (
            f"{RLI}{FSI}www.facebook.com/{ZWSP}902054899875426{PDI}{PDI}",
            "www.facebook.com/902054899875426",
        ),
    ],
)
def test_invisible_controls_are_stripped(text: str, raw: str) -> None:
    link = one(text)
    assert link.raw_url == raw
    assert text[link.offset] == raw[0]  # the offset points at the first visible character
    assert canonical_target(link.url).key in ("youtube:Xq3vT9aLm2Q", "facebook:902054899875426")


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("youtu.be/Xq3vT9aLm2Q", "https://youtu.be/Xq3vT9aLm2Q"),
        ("www.youtube.com/watch?v=Xq3vT9aLm2Q", "https://www.youtube.com/watch?v=Xq3vT9aLm2Q"),
        ("youtube.com/shorts/Xq3vT9aLm2Q", "https://youtube.com/shorts/Xq3vT9aLm2Q"),
        ("m.youtube.com/watch?v=Xq3vT9aLm2Q", "https://m.youtube.com/watch?v=Xq3vT9aLm2Q"),
        ("m.facebook.com/story.php?story_fbid=1&id=2", "https://m.facebook.com/story.php?story_fbid=1&id=2"),
        ("facebook.com/902054899875426", "https://facebook.com/902054899875426"),
        ("fb.watch/abcDEF123/", "https://fb.watch/abcDEF123/"),
        ("www.example.org/report", "https://www.example.org/report"),
        ("WWW.Example.org", "https://WWW.Example.org"),
        ("HTTPS://YOUTU.BE/Xq3vT9aLm2Q", "https://YOUTU.BE/Xq3vT9aLm2Q"),
        ("Http://example.org/x", "http://example.org/x"),
        ("http://127.0.0.1:8765/clip.mp4", "http://127.0.0.1:8765/clip.mp4"),
    ],
)
def test_scheme_added_when_missing(text: str, url: str) -> None:
    link = one(f"الرابط: {text} .")
    assert (link.raw_url, link.url) == (text, url)


@pytest.mark.parametrize(
    "text",
    [
        "radwan.ziadeh@example.org",
        "اميل info@dchrs.example.org",
        "someone@youtube.com/Xq3vT9aLm2Q",
        "someone@www.example.org",
        "mailto:someone@example.org",
        "http://",
        "https://",
        "http:// فقط",
        "https://.",
        "https://-/",
        "ftp://example.org/file",
        "youtube.com",  # a name, not a link
        "example.org/path",  # only known platforms are recognised without a scheme
        "www.",
        "notyoutu.be/Xq3vT9aLm2Q",
        "16-8-2015م 1:40",
    ],
)
def test_not_links(text: str) -> None:
    assert extract_links(text) == []


def test_glued_urls_are_split_but_archive_and_redirect_urls_are_not() -> None:
    assert raws("https://youtu.be/Xq3vT9aLm2Qhttps://youtu.be/b7RkP0wZs4E") == [
        "https://youtu.be/Xq3vT9aLm2Q",
        "https://youtu.be/b7RkP0wZs4E",
    ]
    assert raws(f"https://youtu.be/Xq3vT9aLm2Q{ZWSP}http://youtu.be/b7RkP0wZs4E") == [
        "https://youtu.be/Xq3vT9aLm2Q",
        "http://youtu.be/b7RkP0wZs4E",
    ]
    assert raws("https://youtu.be/Xq3vT9aLm2Q,https://youtu.be/b7RkP0wZs4E") == [
        "https://youtu.be/Xq3vT9aLm2Q",
        "https://youtu.be/b7RkP0wZs4E",
    ]
    assert raws("https://web.archive.org/web/2015/https://youtu.be/Xq3vT9aLm2Q") == [
        "https://web.archive.org/web/2015/https://youtu.be/Xq3vT9aLm2Q"
    ]
    assert raws("https://example.org/go?u=https://youtu.be/Xq3vT9aLm2Q") == [
        "https://example.org/go?u=https://youtu.be/Xq3vT9aLm2Q"
    ]


def test_markdown_link_syntax_in_plain_text() -> None:
    assert raws("[https://youtu.be/Xq3vT9aLm2Q](https://youtu.be/Xq3vT9aLm2Q)") == [
        "https://youtu.be/Xq3vT9aLm2Q",
        "https://youtu.be/Xq3vT9aLm2Q",
    ]


@pytest.mark.parametrize(
    ("query", "seconds"),
    [
        ("?t=69", 69),
        ("?t=69s", 69),
        ("?t=1m9s", 69),
        ("?t=1h2m3s", 3723),
        ("?t=2m", 120),
        ("?feature=share&t=35", 35),
        ("?start=30", 30),
        ("#t=1m9s", 69),
        ("?si=abc#t=90", 90),
        ("", None),
        ("?t=", None),
        ("?t=soon", None),
        ("?t=1:09", None),
    ],
)
def test_start_seconds(query: str, seconds: int | None) -> None:
    assert one(f"https://youtu.be/Xq3vT9aLm2Q{query}").start_seconds == seconds


def test_the_same_url_twice_is_two_citations() -> None:
    links = extract_links("1- أ\nhttps://youtu.be/Xq3vT9aLm2Q\n2- ب\nhttps://youtu.be/Xq3vT9aLm2Q")
    assert [(f.line, f.label) for f in links] == [(2, "1- أ"), (4, "2- ب")]
    assert links[0].offset != links[1].offset


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("5- محمود محضر الشامية\nhttps://youtu.be/Xq3vT9aLm2Q", "5- محمود محضر الشامية"),
        ("101 – الطفل أحمد\nhttps://youtu.be/Xq3vT9aLm2Q", "101 – الطفل أحمد"),
        ("67-عبد الله\nhttps://youtu.be/Xq3vT9aLm2Q", "67-عبد الله"),
        ("5. Ahmad\nhttps://youtu.be/Xq3vT9aLm2Q", "5. Ahmad"),
        ("5) Ahmad\nhttps://youtu.be/Xq3vT9aLm2Q", "5) Ahmad"),
        ("٥- أحمد\nhttps://youtu.be/Xq3vT9aLm2Q", "٥- أحمد"),
        ("۱۲- أحمد\nhttps://youtu.be/Xq3vT9aLm2Q", "۱۲- أحمد"),
        ("  7 —   أحمد    الحلبي  \nhttps://youtu.be/Xq3vT9aLm2Q", "7 — أحمد الحلبي"),
        ("5- أحمد https://youtu.be/Xq3vT9aLm2Q", "5- أحمد"),
        ("5- أحمد\n\nتفاصيل أخرى\nhttps://youtu.be/Xq3vT9aLm2Q", "5- أحمد"),
        ("5- أحمد\nفيديو يظهر الدفن:\nhttps://youtu.be/Xq3vT9aLm2Q", "فيديو يظهر الدفن"),
        ("فيديو يظهر دفن الشهداء:\n6- سامي\nhttps://youtu.be/Xq3vT9aLm2Q", "6- سامي"),
        ("فيديو يظهر دفن الشهداء :  \nhttps://youtu.be/Xq3vT9aLm2Q", "فيديو يظهر دفن الشهداء"),
        ("# الضحايا\n5- أحمد\n## مقاطع الدفن ##\nhttps://youtu.be/Xq3vT9aLm2Q", "مقاطع الدفن"),
        ("## فيديو https://youtu.be/Xq3vT9aLm2Q", "فيديو"),
        ("18-8-2015م\nhttps://youtu.be/Xq3vT9aLm2Q", "18-8-2015م"),  # a date, not entry 18
        ("شاهد الفيديو الذي يظهر القصف على السوق الشعبي صباح يوم الأحد https://youtu.be/Xq3vT9aLm2Q",
         "شاهد الفيديو الذي يظهر القصف على السوق الشعبي"),
        ("مقدمة\n\nhttps://youtu.be/Xq3vT9aLm2Q\nفيديو القصف", "فيديو القصف"),
        ("https://youtu.be/Xq3vT9aLm2Q", "https://youtu.be/Xq3vT9aLm2Q"),
        ("The strike:\u00a0\nhttps://youtu.be/Xq3vT9aLm2Q", "The strike"),
        (f"{RLM}5- {ZWSP}أحمد{RLM}\nhttps://youtu.be/Xq3vT9aLm2Q", "5- أحمد"),
    ],
)
def test_labels(text: str, label: str) -> None:
    assert one(text).label == label


def test_entry_with_two_links_on_its_line() -> None:
    links = extract_links("5- أحمد (https://youtu.be/Xq3vT9aLm2Q) و<https://youtu.be/b7RkP0wZs4E>")
    assert [link.label for link in links] == ["5- أحمد و", "5- أحمد و"]


def test_long_line_ending_with_colon_is_not_a_heading() -> None:
    text = "1- أحمد\n" + "كلام " * 40 + "كما يلي:\nhttps://youtu.be/Xq3vT9aLm2Q"
    assert one(text).label == "1- أحمد"


def test_labels_are_capped() -> None:
    label = one("1- " + "اسم " * 500 + "\nhttps://youtu.be/Xq3vT9aLm2Q").label
    assert len(label) <= 200 and label.endswith("…")


def test_offsets_and_lines_with_invisible_controls_before() -> None:
    text = f"{RLM}{RLM}سطر\n{ZWSP}1- {LRM}أحمد\n{RLM}https://you{ZWSP}tu.be/Xq3vT9aLm2Q{RLM}"
    link = one(text)
    assert link.line == 3
    assert link.offset == text.index("https")
    assert text.split("\n")[2].startswith(RLM + "https")


def test_windows_and_old_mac_newlines_are_not_lines() -> None:
    # ingest normalizes newlines; here a lone \r stays inside a line
    link = one("1- أحمد\r\nhttps://youtu.be/Xq3vT9aLm2Q\r")
    assert (link.line, link.raw_url) == (2, "https://youtu.be/Xq3vT9aLm2Q")


@pytest.mark.slow
@pytest.mark.parametrize("line", HOSTILE_LINES, ids=lambda line: repr(line[:12]))
def test_one_megabyte_hostile_line_gives_sane_links(line: str) -> None:
    """No crash, and every link found is one a target can be made of, or one too long to
    capture; how long each takes is ``bench/links_hostile.py``'s (linear, not timed here)."""
    links = extract_links(line + "\nhttps://youtu.be/b7RkP0wZs4E")
    assert links and links[-1].url == "https://youtu.be/b7RkP0wZs4E"
    for link in links:
        assert link.target is not None or len(link.url) > MAX_URL_LENGTH


@pytest.mark.slow
def test_ten_thousand_links() -> None:
    lines = [f"{i}- اسم\nhttps://youtu.be/{i:011d}?t={i}" for i in range(10_000)]
    links = extract_links("\n".join(lines))
    assert len(links) == 10_000
    assert links[-1].label == "9999- اسم" and links[-1].start_seconds == 9999
    assert len({canonical_target(link.url).key for link in links}) == 10_000

    same_line = extract_links(" ".join(["https://youtu.be/Xq3vT9aLm2Q"] * 10_000))
    assert len(same_line) == 10_000
    assert len({link.offset for link in same_line}) == 10_000


def test_found_link_is_frozen() -> None:
    link = one("https://youtu.be/Xq3vT9aLm2Q")
    with pytest.raises(AttributeError, match="cannot assign"):
        link.url = "x"  # type: ignore[misc]


@pytest.mark.slow
def test_random_text_never_raises_and_every_link_is_a_target() -> None:
    rng = random.Random(20150816)
    pieces = ["https://", "http://", "www.", "youtu.be/", "m.facebook.com/", "Xq3vT9aLm2Q",
              "?t=69", "5- ", "#", " ", "\n", ":", "(", ")", "[", "]", "<", ">", ".", "،", "دوما",
              "@", "\u200b", "\u200f", "\u2066", "\ufeff", "%", "a", "-", "/", "\u00a0", "٥", "–",
              "example.org/", "?q=", "\u064e", "پ", "«"]
    for _ in range(3_000):
        text = "".join(rng.choices(pieces, k=rng.randint(0, 60)))
        for link in extract_links(text):
            canonical_target(link.url)
            assert link.raw_url and link.label
            assert 1 <= link.line <= text.count("\n") + 1
            assert text[link.offset] == link.raw_url[0]


def test_public_names() -> None:
    assert links_module.__all__ == ["FoundLink", "extract_links", "iter_links"]


def test_a_cited_url_too_long_to_capture_is_still_found() -> None:
    """Found (so ingest can say it skipped it and why), never silently dropped."""
    url = "https://example.org/" + "a" * 9000
    (link,) = extract_links(f"1- اسم\n{url}\n")
    assert link.url == url and link.line == 2 and link.label == "1- اسم"
    with pytest.raises(InvalidURL, match="over the limit"):
        canonical_target(link.url)
