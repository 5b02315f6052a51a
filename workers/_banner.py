"""The banner stamped into a screenshot: the URL as loaded, the UTC time, the capture id
and the archive's key id (the Berkeley Protocol's full-page capture "with the date and
time indicated").

The page under evidence is never changed to draw it: the page's own screenshot is placed
unscaled below the banner on a separate, local page (``set_content``, the image as a
``data:`` URI; nothing is fetched), and that page is screenshotted. So the result is
the banner, then the page's pixels exactly as captured.
"""

from __future__ import annotations

import base64
import html
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = ["BANNER_HEIGHT", "Banner", "png_size", "stamp"]

BANNER_HEIGHT = 56  # pixels
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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

    def html(self, image: bytes, width: int) -> str:
        url, second = (html.escape(line, quote=True) for line in self.lines())
        data = base64.b64encode(image).decode("ascii")
        return (
            "<!doctype html><html><head><meta charset=utf-8><style>"
            "html,body{margin:0;padding:0;background:#fff}"
            f"#banner{{box-sizing:border-box;width:{width}px;height:{BANNER_HEIGHT}px;"
            "padding:6px 10px;background:#1b1b1b;color:#fff;overflow:hidden;"
            "font:13px/20px 'DejaVu Sans Mono',monospace;border-bottom:2px solid #d40000}"
            "#banner div{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;"
            "unicode-bidi:isolate;direction:ltr}"
            "img{display:block}</style></head><body>"
            f'<div id=banner><div>{url}</div><div>{second}</div></div>'
            f'<img alt="" src="data:image/png;base64,{data}"></body></html>'
        )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header; ``ValueError`` when it is not a PNG."""
    if len(data) < 24 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


async def stamp(page: Page, image: bytes, banner: Banner, *, width: int,
                height: int) -> tuple[bytes, tuple[int, int]]:
    """``image`` (the page, ``width`` × ``height``) under ``banner``, as one PNG, drawn on
    ``page`` (a page of a context that fetches nothing; reused, one stamp at a time)."""
    await page.set_viewport_size({"width": width, "height": min(height + BANNER_HEIGHT, 4096)})
    await page.set_content(banner.html(image, width), wait_until="load")
    stamped = await page.screenshot(
        full_page=True, type="png",
        clip={"x": 0, "y": 0, "width": width, "height": height + BANNER_HEIGHT})
    await page.set_content("")  # the image is not held between stamps
    return stamped, png_size(stamped)
