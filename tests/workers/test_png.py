"""Stacking the banner's PNG above the page's (``workers._png.stack``): pixel for pixel,
whatever row filters and colour type the images use; anything else is refused."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image

from workers._png import stack

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
_MODES = {0: "L", 2: "RGB", 4: "LA", 6: "RGBA"}


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _filter(kind: int, row: bytes, above: bytes, n: int) -> bytes:
    if kind == 0:
        return b"\0" + row
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - n] if i >= n else 0
        b, c = above[i], (above[i - n] if i >= n else 0)
        predictor = (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]
        out.append((x - predictor) & 0xFF)
    return bytes([kind]) + bytes(out)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def make_png(pixels: bytes, width: int, height: int, colour: int, filters: list[int], *,
             header: tuple[int, int, int] = (0, 0, 0), depth: int = 8,
             data: bytes | None = None) -> bytes:
    """A PNG whose rows use ``filters`` in turn (the first row's is ``filters[0]``), as
    a real encoder may choose them."""
    n = _CHANNELS.get(colour, 1)
    stride, raw, above = width * n, bytearray(), bytes(width * n)
    for y in range(height):
        row = pixels[y * stride:(y + 1) * stride]
        raw += _filter(filters[y % len(filters)], row, above, n)
        above = row
    body = zlib.compress(bytes(raw)) if data is None else data
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, *header)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body) + \
        _chunk(b"IEND", b"")


def noise(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.mark.parametrize("colour", [0, 2, 4, 6])
@pytest.mark.parametrize("first", [0, 1, 2, 3, 4])
def test_stacked_pixels_are_both_images_unchanged(colour: int, first: int) -> None:
    """Every filter type on the lower image's first row (the one row rewritten)."""
    width, n = 23, _CHANNELS[colour]
    top_pixels, bottom_pixels = noise(width * 4 * n, 1), noise(width * 9 * n, 2)
    top = make_png(top_pixels, width, 4, colour, [4, 3, 2, 1, 0])
    bottom = make_png(bottom_pixels, width, 9, colour, [first, 4, 3, 2, 1, 0])
    out, size = stack(top, bottom)
    with Image.open(io.BytesIO(out)) as image:
        image.load()
        assert image.mode == _MODES[colour] and image.size == size == (width, 13)
        assert image.tobytes() == top_pixels + bottom_pixels


def test_a_tall_image_is_streamed_through_whole() -> None:
    """Many compressed blocks (a 12,000-row page): every row arrives, in order."""
    width, height = 640, 12000
    rows = b"".join(bytes([y % 251]) * (width * 3) for y in range(height))
    bottom = make_png(rows, width, height, 2, [1] + [0] * (height - 1))
    top = make_png(noise(width * 3 * 56, 3), width, 56, 2, [1])
    out, size = stack(top, bottom)
    assert size == (width, height + 56)
    with Image.open(io.BytesIO(out)) as image:
        image.load()
        assert image.crop((0, 56, width, height + 56)).tobytes() == rows


def _good(**changes: object) -> bytes:
    values: dict[str, object] = {"pixels": noise(8 * 3 * 2, 4), "width": 8, "height": 2,
                                 "colour": 2, "filters": [1]}
    return make_png(**(values | changes))  # type: ignore[arg-type]


def _raw(height: int = 2, width: int = 8) -> bytes:
    return b"".join(b"\0" + bytes(width * 3) for _ in range(height))


@pytest.mark.parametrize(("bad", "message"), [
    (b"GIF89a", "not a PNG"),
    (_good()[:-20], "truncated"),
    (_good()[:-12], "no IEND"),
    (_good()[:30] + bytes([_good()[30] ^ 1]) + _good()[31:], "bad checksum"),
    (_good(header=(0, 0, 1)), "not supported"),
    (_good(depth=16, pixels=noise(8 * 6 * 2, 5)), "not supported"),
    (_good(colour=3, pixels=noise(8 * 2, 6)), "not supported"),
    (_good(width=0, pixels=b""), "not supported"),
    (_good(data=zlib.compress(_raw(3))), "longer than the image"),
    (_good(data=zlib.compress(_raw(1))), "truncated or malformed"),
    (_good(data=zlib.compress(_raw())[:-4]), "truncated or malformed"),
    (_good(data=zlib.compress(_raw()) + b"junk"), "truncated or malformed"),
    (_good(data=b"not zlib at all"), "data malformed"),
    (_good(data=zlib.compress(b"\7" + bytes(24) + _raw(1))), "row filter 7"),
    (_good(width=9, pixels=noise(9 * 3 * 2, 7)), "differ"),
    (_good(colour=6, pixels=noise(8 * 4 * 2, 8)), "differ"),
    (_good()[:33] + _chunk(b"IEND", b""), "no image data"),
])
def test_what_is_not_a_chromium_screenshot_is_refused(bad: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stack(_good(), bad)


def test_a_zlib_bomb_is_cut_at_the_image_size() -> None:
    """Image data that inflates far beyond its header's size stop at the first block over."""
    bomb = zlib.compress(bytes(50 << 20), 9)  # 50 MB of zeros in about 50 kB
    with pytest.raises(ValueError, match="longer than the image"):
        stack(_good(), _good(data=bomb))
