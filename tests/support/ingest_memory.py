"""Run in a process of its own: ingest the report ``argv[2]`` into the archive configured
by ``argv[1]`` and print, as JSON, the ``IngestResult``'s counts, the seconds the ingest
took, and the process's peak resident memory (``VmHWM``, KiB) once the archive is open
and at the end. Used by ``tests/hostile/test_bigingest.py`` and ``bench/ingest_scale.py``
(which runs it as a script against an older checkout of preserver, so it imports only
names every version has).

    python -m tests.support.ingest_memory CONFIG REPORT

``douma_report(n)`` writes a report in the shape of the Douma report: numbered entries
with Arabic names, each followed by a YouTube, Facebook or web link, every tenth entry
citing again a link cited seven entries earlier.

``VmHWM`` rather than ``getrusage``: Linux carries a parent's peak across fork and exec
into the child's ``ru_maxrss``, so a child of a large test process would report the
parent's peak.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

_NAMES = ("محمد", "أحمد", "سمير", "خالد", "عمر", "ياسين", "هدى", "فاطمة", "مازن", "رامي")
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _video_id(n: int) -> str:
    chars = []
    for _ in range(11):
        n, digit = divmod(n, 64)
        chars.append(_ID_CHARS[digit])
    return "".join(reversed(chars))


def _url(n: int) -> str:
    kind = n % 6  # as in the Douma report: mostly YouTube, then Facebook, a few web pages
    if kind < 4:
        return f"https://youtu.be/{_video_id(n * 7919 + 12345)}" + ("?t=69" if n % 60 == 0 else "")
    if kind == 4:
        return f"https://www.facebook.com/{100004521987310 + n}"
    return f"https://example.org/{n}/فيديو"


def douma_cited(n: int) -> int:
    """Which entry's link entry ``n`` cites: its own, or every tenth one cited before."""
    return n - 7 if n % 10 == 9 else n


def douma_report(links: int) -> str:
    """A report of ``links`` citations; ``len({douma_cited(n) for n in range(links)})``
    distinct targets."""
    parts = ["تقرير: توثيق ضحايا القصف\nوثّق المركز أسماء الضحايا التالية مع المقاطع المصورة.\n"]
    for n in range(links):
        parts.append(f"{n + 1}- {_NAMES[n % len(_NAMES)]}\n{_url(douma_cited(n))}\n")
    return "".join(parts)


def peak_kib() -> int:
    """This process's peak resident memory so far, KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


async def main(config: Path, report: Path) -> dict[str, Any]:
    from preserver.archive import open_archive
    from preserver.config import load_config
    from preserver.ingest.report import ingest_report

    async with open_archive(load_config(config, env={})) as archive:
        opened = peak_kib()
        start = time.perf_counter()
        result = await ingest_report(archive, report)
        seconds = time.perf_counter() - start
    return {"citations": result.citations, "targets": result.targets,
            "new_targets": result.new_targets, "queued": result.queued,
            "skipped": len(result.skipped), "opened_kib": opened, "end_kib": peak_kib(),
            "seconds": seconds}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))))
