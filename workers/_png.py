"""Two PNG images stacked into one, the pixels of each unchanged: the screenshot's banner
on top of the page's pixels (``workers._banner``).

Only what Chromium's screenshots are is taken: 8 bits a sample, not interlaced, grey,
RGB, grey+alpha or RGBA, both of the same width and colour type. Anything else, a bad
checksum, a truncated or overlong image stream, raises ``ValueError``.

The image data are streamed: ``bottom`` (a page up to ``max_height`` pixels tall) is
decompressed and compressed again a block at a time, never held whole. PNG rows are
filtered against the row above; ``bottom``'s first row was filtered against a row of
zeros, so it alone is unfiltered and written again unfiltered (filter type 0).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["stack"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type: samples a pixel (8-bit only)
_BLOCK = 1 << 16  # compressed bytes read, and decompressed bytes produced, at a time
_MAX_CHUNK = 1 << 31


@dataclass(frozen=True)
class _Image:
    width: int
    height: int
    colour: int
    idat: tuple[bytes, ...]  # the IDAT chunks' data, in order

    @property
    def row(self) -> int:  # bytes of one filtered row: the filter byte and the pixels
        return 1 + self.width * _CHANNELS[self.colour]


def _chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG image")
    at = len(_SIGNATURE)
    while at < len(data):
        if at + 12 > len(data):
            raise ValueError("PNG image truncated")
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, end = data[at + 4:at + 8], at + 8 + length
        if length >= _MAX_CHUNK or end + 4 > len(data):
            raise ValueError("PNG image truncated")
        body = data[at + 8:end]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[end:end + 4])[0]:
            raise ValueError(f"PNG chunk {kind!r}: bad checksum")
        yield kind, body
        if kind == b"IEND":
            return
        at = end + 4
    raise ValueError("PNG image has no IEND")


def _parse(data: bytes) -> _Image:
    chunks = list(_chunks(data))
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise ValueError("PNG image has no header")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1])
    if depth != 8 or colour not in _CHANNELS or (compression, filtering, interlace) != (0, 0, 0):
        raise ValueError(f"PNG image not supported (depth {depth}, colour type {colour}, "
                         f"interlace {interlace})")
    if not 0 < width < 1 << 20 or not 0 < height < 1 << 20:
        raise ValueError(f"PNG image of {width} x {height} pixels not supported")
    idat = tuple(body for kind, body in chunks if kind == b"IDAT")
    if not idat:
        raise ValueError("PNG image has no image data")
    return _Image(width, height, colour, idat)


def _rows(image: _Image) -> Iterator[bytes]:
    """``image``'s filtered rows, decompressed, in blocks; exactly ``height`` rows."""
    expected, produced = image.height * image.row, 0
    inflate = zlib.decompressobj()
    for body in image.idat:
        pending = body
        while pending:
            try:
                block = inflate.decompress(pending, _BLOCK)
            except zlib.error as exc:
                raise ValueError(f"PNG image data malformed: {exc}") from None
            pending = inflate.unconsumed_tail
            produced += len(block)
            if produced > expected:
                raise ValueError("PNG image data longer than the image")
            yield block
    if not inflate.eof or inflate.unused_data or produced != expected:
        raise ValueError("PNG image data truncated or malformed")


def _unfiltered(row: bytes, channels: int) -> bytes:
    """The first row of an image (its filter byte, then pixels), unfiltered: the row
    above the first is zeros, so Up is None and Paeth is Sub."""
    kind, pixels = row[0], bytearray(row[1:])
    if kind in (1, 4):
        for i in range(channels, len(pixels)):
            pixels[i] = (pixels[i] + pixels[i - channels]) & 0xFF
    elif kind == 3:
        for i in range(channels, len(pixels)):
            pixels[i] = (pixels[i] + (pixels[i - channels] >> 1)) & 0xFF
    elif kind not in (0, 2):
        raise ValueError(f"PNG row filter {kind} unknown")
    return b"\0" + bytes(pixels)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def stack(top: bytes, bottom: bytes, *, level: int = 6) -> tuple[bytes, tuple[int, int]]:
    """One PNG: ``top``'s rows, then ``bottom``'s, pixel for pixel; and its (width,
    height). ``ValueError`` when either is not a PNG this module takes (module
    docstring) or their widths or colour types differ."""
    upper, lower = _parse(top), _parse(bottom)
    if (upper.width, upper.colour) != (lower.width, lower.colour):
        raise ValueError(f"PNG images differ: {upper.width} px colour type {upper.colour} "
                         f"against {lower.width} px colour type {lower.colour}")
    height = upper.height + lower.height
    deflate = zlib.compressobj(level)
    out = [_SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", upper.width, height, 8,
                                                   upper.colour, 0, 0, 0))]

    def emit(data: bytes) -> None:
        compressed = deflate.compress(data)
        if compressed:
            out.append(_chunk(b"IDAT", compressed))

    for block in _rows(upper):
        emit(block)
    first, channels = b"", _CHANNELS[lower.colour]
    for block in _rows(lower):
        if len(first) < lower.row:  # the first row, whole, before anything after it
            first += block
            if len(first) < lower.row:
                continue
            block, first = first[lower.row:], _unfiltered(first[:lower.row], channels)
            emit(first)
        emit(block)
    out += [_chunk(b"IDAT", deflate.flush()), _chunk(b"IEND", b"")]
    return b"".join(out), (upper.width, height)
