"""How long link extraction takes on million-character hostile lines, side by side with
plain prose of the same size (the baseline): a ratio near 1 means linear work; a line
that makes the extractor backtrack or rescan shows as a large ratio.

    .venv/bin/python bench/links_hostile.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preserver.ingest.links import extract_links
from tests.support.hostile_text import HOSTILE_LINES


def seconds(text: str, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        extract_links(text)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    tail = "\nhttps://youtu.be/b7RkP0wZs4E"
    print(f"{'line':<24} {'chars':>9} {'seconds':>8} {'prose':>8} {'ratio':>6}")
    for line in HOSTILE_LINES:
        words = "نص عادي في تقرير " * (len(line) // 17 + 1)
        prose = seconds(words[: len(line)] + tail)
        hostile = seconds(line + tail)
        print(f"{line[:22]!r:<24} {len(line):>9,} {hostile:>8.3f} {prose:>8.3f} "
              f"{hostile / prose:>6.1f}")


if __name__ == "__main__":
    main()
