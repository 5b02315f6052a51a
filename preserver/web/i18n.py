"""The pages' two languages, English and Arabic (right to left).

A page's language is the ``preserver_lang`` cookie set by the language switch
(``/lang/<code>``), else the first of ``Accept-Language`` we have, else English. Every
message has both texts (a test checks it); ``t(key, **values)`` formats one.
"""

from __future__ import annotations

from preserver.web.messages import MESSAGES

LANGUAGES = ("en", "ar")
RTL = frozenset({"ar"})
LANG_COOKIE = "preserver_lang"


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language of a page: the cookie's when known, else the browser's first known."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(",")[:16]:
        code = part.split(";", 1)[0].strip().lower().split("-", 1)[0]
        if code in LANGUAGES:
            return code
    return "en"


def direction(lang: str) -> str:
    return "rtl" if lang in RTL else "ltr"


def translate(lang: str, key: str, **values: object) -> str:
    """The message ``key`` in ``lang`` (English when the key has no text in it)."""
    texts = MESSAGES[key]
    text = texts.get(lang) or texts["en"]
    return text.format(**values) if values else text
