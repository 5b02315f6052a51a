"""YouTube and Facebook, stood in for offline: the one thing the tests mock.

A stub extractor named ``youtube``/``facebook`` is registered on a real
``yt_dlp.YoutubeDL`` and raises each message collected in docs/yt-dlp.md "Message rules"
the way the real extractor does (``StubYoutubeIE``, ``StubFacebookIE``: used by
``tests/workers/test_classify.py``). ``OfflineYoutubeIE``/``OfflineFacebookIE`` answer
watch pages by video id (a listed id fails with its platform's text, any other plays)
and are loaded by module path (``EXTRACTORS``) ahead of yt-dlp's own; ``OEmbed`` is a
switchable oEmbed endpoint on the fixture site.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.extractor.youtube._base import YoutubeBaseInfoExtractor
from yt_dlp.utils import ExtractorError, remove_end

from tests.support.fixture_site import FixtureSite, send

HERE = "tests.support.platforms"
EXTRACTORS = (f"{HERE}:OfflineYoutubeIE", f"{HERE}:OfflineFacebookIE")

# -- the stub "platform" ------------------------------------------------------------------

RSQ = "\u2019"  # the apostrophe YouTube actually sends


class StubIE(InfoExtractor):  # type: ignore[misc]  # yt-dlp is untyped
    """Raises the failure registered for the id in the URL, as the real extractor would."""

    _VALID_URL = r"stub-[a-z]+:(?P<id>[\w-]+)"
    CASES: ClassVar[dict[str, tuple[str, str]]] = {}  # id -> (how, text)

    def _real_extract(self, url: str) -> dict[str, Any]:
        how, text = self.CASES[self._match_id(url)]
        if how == "reason":  # extractor/youtube/_video.py, playability reason
            reason = text
            if "sign in" in reason.lower():
                reason = remove_end(reason, "This helps protect our community. Learn more")
                hint = YoutubeBaseInfoExtractor._youtube_login_hint.fget(self)
                reason = f"{remove_end(reason.strip(), '.')}. {hint}"
            elif "This content isn't available, try again later" in reason:
                reason = (
                    f"{remove_end(reason.strip(), '.')}. The current session has been rate-limited"
                    " by YouTube for up to an hour. It is recommended to use `-t sleep` to add a"
                    " delay between video requests to avoid exceeding the rate limit. For more"
                    " information, refer to  https://github.com/yt-dlp/yt-dlp/wiki/Extractors"
                    "#this-content-isnt-available-try-again-later"
                )
            self.raise_no_formats(reason, expected=True)
        if how == "captcha":
            self.raise_no_formats(
                f"{text}. YouTube is requiring a captcha challenge before playback", expected=True
            )
        if how == "geo":
            self.raise_geo_restricted(text, ["DE", "FR"], metadata_available=True)
        if how == "login":
            self.raise_login_required()
        if how == "unexpected":
            raise ExtractorError(text)
        raise ExtractorError(text, expected=True)  # "plain": an expected extractor error


class StubYoutubeIE(StubIE):
    IE_NAME = "youtube"
    _VALID_URL = r"stub-youtube:(?P<id>[\w-]+)"
    _COOKIE_HOWTO_WIKI_URL = YoutubeBaseInfoExtractor._COOKIE_HOWTO_WIKI_URL


class StubFacebookIE(StubIE):
    IE_NAME = "facebook"
    _VALID_URL = r"stub-facebook:(?P<id>[\w-]+)"


# -- the platforms' messages (docs/yt-dlp.md "Message rules") ------------------------------

FB_EXPIRED = (
    "The link you followed may have expired, or the page may only be visible to an audience"
    " you&#039;re not in."
)
YT_TERMINATED = (
    "Video unavailable. This video is no longer available because the YouTube account"
    " associated with this video has been terminated."
)
YT_BOT = f"Sign in to confirm you{RSQ}re not a bot. This helps protect our community. Learn more"
FB_SAID = 'The video is not available, Facebook said: "{}"'
PRIVATE = "Private video. Sign in if you've been granted access to this video"


# -- watch pages by video id -------------------------------------------------------------


def _playable(video_id: str) -> dict[str, Any]:
    return {"id": video_id, "title": "clip", "ext": "mp4", "url": "http://127.0.0.1:9/clip.mp4"}


class _PlayableUnlessListed:
    """A stand-in whose ids in ``CASES`` fail with their platform's text; any other id
    plays."""

    CASES: ClassVar[dict[str, tuple[str, str]]] = {}

    def _real_extract(self, url: str) -> dict[str, Any]:
        video_id = self._match_id(url)  # type: ignore[attr-defined]
        if video_id not in self.CASES:
            return _playable(video_id)
        result: dict[str, Any] = super()._real_extract(url)  # type: ignore[misc]
        return result


class OfflineYoutubeIE(_PlayableUnlessListed, StubYoutubeIE):
    """YouTube's watch page, answering with the failure registered for each video id."""

    _VALID_URL = r"https://www\.youtube\.com/watch\?v=(?P<id>[\w-]{11})"
    CASES: ClassVar[dict[str, tuple[str, str]]] = {
        "removedUplr": ("reason", "Video unavailable. This video has been removed by the uploader"),
        "terminatedA": ("reason", YT_TERMINATED),
        "privateVidA": ("reason", PRIVATE.replace("'", RSQ)),
        "botCheckAAA": ("reason", YT_BOT),
        "unavailable": ("reason", "Video unavailable"),
    }


class OfflineFacebookIE(_PlayableUnlessListed, StubFacebookIE):
    """Facebook's video page, on the fixture site's /fb/ paths."""

    _VALID_URL = r"http://127\.0\.0\.1:\d+/fb/(?P<id>\w+)"
    CASES: ClassVar[dict[str, tuple[str, str]]] = {
        "wall": ("login", ""),
        "gone": ("login", ""),
        "said": ("plain", FB_SAID.format(FB_EXPIRED)),
        "missing": ("plain", FB_SAID.format(FB_EXPIRED)),
        "bot": ("plain", "All player responses are invalid. Your IP is likely being blocked"),
    }


# -- YouTube's oEmbed endpoint, on the fixture site -------------------------------------


class OEmbed:
    """A switchable oEmbed endpoint: per video id, a cycle of (status, body) answers."""

    def __init__(self, site: FixtureSite) -> None:
        self.answers: dict[str, list[tuple[int, bytes]]] = {}
        self.asked: list[str] = []
        self.url = site.add("/oembed", self.handle)

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(req.path).query)
        watch = query["url"][0]
        assert query["format"] == ["json"]
        video_id = parse_qs(urlsplit(watch).query)["v"][0]
        self.asked.append(video_id)
        cycle = self.answers.get(video_id, [(404, b"Not Found")])
        code, body = cycle[0]
        self.answers[video_id] = [*cycle[1:], cycle[0]]
        ctype = "application/json" if body.startswith(b"{") else "text/html"
        send(req, code, body, ctype, {"Retry-After": "120"} if code == 429 else None)


OK_JSON = b'{"title": "clip", "type": "video", "provider_name": "YouTube"}'
