"""Lines of a million characters built to make a link extractor backtrack or rescan:
shared by ``tests/preserver/test_links.py`` (no crash, sane results) and
``bench/links_hostile.py`` (how long each takes against plain prose of the same size)."""

from __future__ import annotations

HOSTILE_LINES: tuple[str, ...] = (
        "دوما " * 200_000 + "https://youtu.be/Xq3vT9aLm2Q",
        "a" * 1_000_000,
        "a." * 500_000,
        "a " * 500_000,
        "https://" * 125_000,
        "https://example.org/" + ")" * 1_000_000,
        "[" * 1_000_000,
        "(" * 1_000_000,
        "5- " + "x" * 1_000_000 + " https://youtu.be/Xq3vT9aLm2Q",
        " " * 1_000_000 + ":",
        "# " + " " * 1_000_000 + "#",
        "www." * 250_000,
        "youtu.be/" * 110_000,
        "https://example.org/" + "دوما" * 250_000,
        "https://example.org/" + "دَ" * 500_000,  # a combining mark after every letter
        "https://-/x," * 83_000,  # glued candidates: none is scanned past the next
        "https://-/د," * 83_000,
        "https://example.org/د" + "،" * 1_000_000,
        "https://youtu.be/" + "د" * 1_000_000,
)
