"""How far our target keys agree with yt-dlp on yt-dlp's own test URLs.

    .venv/bin/python bench/url_forms.py

For every test URL of yt-dlp's YouTube and Facebook extractors that the
extractor accepts with an id, our key must be ``youtube:<id>`` /
``facebook:<id>``. The exclusions (bare ids, third-party front-ends) and their
reasons are data in ``tests/support/ytdlp_urls.py``; ``tests/preserver/test_targets.py``
asserts the same numbers.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.ytdlp_urls import YTDLP_EXCLUDED, agreement


def main() -> None:
    counts = agreement()
    reasons = Counter(exclusion.reason for exclusion in YTDLP_EXCLUDED.values())
    excluded = "; ".join(f"{n} x {reason}" for reason, n in reasons.most_common())
    yt, fb = counts.get("youtube", (0, 0)), counts.get("facebook", (0, 0))
    print(f"YouTube: {yt[0]} of {yt[1]} agree, Facebook: {fb[0]} of {fb[1]} agree "
          f"(excluded {len(YTDLP_EXCLUDED)}: {excluded})")


if __name__ == "__main__":
    main()
