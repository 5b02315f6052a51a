"""The banner stamped into a screenshot: the URL as loaded, the UTC time, the capture id
and the archive's key id (the Berkeley Protocol's full-page capture "with the date and
time indicated").

The page under evidence is never changed to draw it: the banner alone is drawn on a
separate, local page (``set_content``; nothing is fetched) and screenshotted, and that
image is stacked above the page's own screenshot row by row (``workers._png.stack``).
So the result is the banner, then the page's pixels exactly as captured, and the page's
image never passes through a second renderer (measured: that cost about 100 MB at the
peak of a run, ``bench/browser_cost.py``).
"""

from __future__ import annotations

import asyncio
import html
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workers._png import stack

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = ["BANNER_HEIGHT", "Banner", "StampFailed", "png_size", "stamp"]

BANNER_HEIGHT = 56  # pixels
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class StampFailed(Exception):
    """The page's screenshot could not be stamped (not a PNG ``workers._png`` takes)."""


@dataclass(frozen=True, kw_only=True)
class Banner:
    url: str
    taken_at: str  # RFC 3339 UTC
    capture_id: str
    key_id: str

    def lines(self) -> list[str]:
        """The banner's two lines of text, as recorded beside the image."""
        second = (f"captured {self.taken_at} (UTC) · capture {self.capture_id} · "
                  f"archive key {self.key_id or '-'}")
        return [self.url, second]

    def html(self, width: int) -> str:
        url, second = (html.escape(line, quote=True) for line in self.lines())
        return (
            "<!doctype html><html><head><meta charset=utf-8><style>"
            "html,body{margin:0;padding:0;background:#fff}"
            f"#banner{{box-sizing:border-box;width:{width}px;height:{BANNER_HEIGHT}px;"
            "padding:6px 10px;background:#1b1b1b;color:#fff;overflow:hidden;"
            "font:13px/20px 'DejaVu Sans Mono',monospace;border-bottom:2px solid #d40000}"
            "#banner div{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;"
            "unicode-bidi:isolate;direction:ltr}</style></head><body>"
            f"<div id=banner><div>{url}</div><div>{second}</div></div></body></html>"
        )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header; ``ValueError`` when it is not a PNG."""
    if len(data) < 24 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


async def stamp(page: Page, image: bytes, banner: Banner) -> tuple[bytes, tuple[int, int]]:
    """``image`` (a PNG of the page) under ``banner``, as one PNG, and its size; the
    banner is drawn on ``page`` (a page of a context that fetches nothing; reused, one
    stamp at a time) at the image's width. ``StampFailed`` when ``image`` is not a PNG
    ``workers._png`` takes."""
    try:
        width, _ = png_size(image)
    except ValueError as exc:
        raise StampFailed(f"screenshot not stamped: {exc}") from None
    await page.set_viewport_size({"width": width, "height": BANNER_HEIGHT})
    await page.set_content(banner.html(width), wait_until="load")
    top = await page.screenshot(type="png",
                                clip={"x": 0, "y": 0, "width": width, "height": BANNER_HEIGHT})
    try:
        return await asyncio.to_thread(stack, top, image)  # a tall page: about 0.3 s of zlib
    except ValueError as exc:
        raise StampFailed(f"screenshot not stamped: {exc}") from None
