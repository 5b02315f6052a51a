"""PDF reports at scale (issue 13): time to ingest a long PDF, memory to read a large one.

    .venv/bin/python bench/pdf_ingest.py [--pages 300] [--links 2000] [--mb 200]

Prints, side by side in one run:

1. A ``--pages`` page Arabic report with ``--links`` links behind "شاهد الفيديو",
   printed by Chromium: the time to read it and extract its links (``read_report`` +
   ``extract_links``, in this process) and the wall time of the whole ``preserver
   ingest`` on a fresh temporary archive (a new process: startup, database, blob store,
   custody event), against the target of 10 s.
2. A PDF of about ``--mb`` MB (pages of text and links, each with a large embedded
   image, written object by object), read by a process (``read_report``): its own peak
   RSS against its peak before reading (imports done), the baseline, and the peak RSS
   of the reader's child, where PDFium runs (``RUSAGE_CHILDREN``), against
   ``pdf.MEMORY_LIMIT``, the address space it is allowed. PDFium reads the file on
   demand and never decodes the images, so both peaks should stay near their
   baselines whatever the file's size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from preserver.ingest.links import extract_links
from preserver.ingest.readers import pdf, read_report
from tests.support.pdf_reports import RawPage, html_page, print_pages, raw_pdf

TARGET_SECONDS = 10.0
CONFIG = 'data_dir = "archive"\noperator = "bench"\n[collection]\nip_echo_url = ""\nntp_server = ""\n'
CHILD = """
import json, resource, sys, time
from pathlib import Path
from preserver.ingest.links import extract_links
from preserver.ingest.readers import read_report
def hwm():  # this process's peak RSS, KiB (ru_maxrss keeps the forking process's across exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
before = hwm()
started = time.monotonic()
report = read_report(Path(sys.argv[1]))
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
links = sum(1 for _ in extract_links(report.text))
print(json.dumps({"before": before, "peak": hwm(),
                  "child": child,
                  "seconds": time.monotonic() - started, "links": links,
                  "pages": len(report.page_lines)}))
"""


def long_report(pages: int, links: int) -> str:
    body, written = [], 0
    for page in range(pages):
        body.append('<div style="break-before:page">')
        share = (links - written) // (pages - page)
        for _ in range(share):
            written += 1
            body.append(f"<p>{written}- محمود محضر الشامية أبو صياح، وفي نزيف مستمر للدماء</p>"
                        f'<p><a href="https://youtu.be/v{written:010d}">شاهد الفيديو</a></p>')
        body.append("<p>وكما هي العادة، وفي نزيف مستمر للدماء السورية، لا زال المدنيون في "
                    "المناطق الخاضعة لسيطرة المعارضة المسلحة على قائمة أهداف القصف</p></div>")
    return html_page("".join(body))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
    env["PYTHONPATH"] = str(HERE)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        long = root / "long.pdf"
        [data] = print_pages([long_report(args.pages, args.links)], timeout=600)
        long.write_bytes(data)
        started = time.monotonic()
        found = extract_links(read_report(long).text)
        read_seconds = time.monotonic() - started
        (root / "config.toml").write_text(CONFIG, encoding="utf-8")
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "preserver", "--config",
                               str(root / "config.toml"), "ingest", str(long)], cwd=root,
                              env=env, capture_output=True, text=True, check=False)
        ingest_seconds = time.monotonic() - started
        print(f"long PDF: {args.pages} pages, {len(found)} links found of {args.links}, "
              f"{long.stat().st_size / 2**20:.1f} MiB")
        print(f"  read_report + extract_links (reading child included): {read_seconds:6.2f} s   "
              f"target {TARGET_SECONDS:.0f} s  ({read_seconds / TARGET_SECONDS:.2f} x target)")
        print(f"  preserver ingest (new archive): {ingest_seconds:6.2f} s   "
              f"target {TARGET_SECONDS:.0f} s  ({ingest_seconds / TARGET_SECONDS:.2f} x target)"
              f"   exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
        large = root / "large.pdf"
        count = 100
        image = args.mb * 1_000_000 // count
        with large.open("wb") as out:
            raw_pdf(out, [RawPage(text=(f"{n}- name", "text of the page"),
                                  uris=(f"https://youtu.be/v{n:010d}".encode(),),
                                  image_bytes=image) for n in range(1, count + 1)])
        child = subprocess.run([sys.executable, "-c", CHILD, str(large)], env=env, cwd=root,
                               capture_output=True, text=True, check=True)
        got = json.loads(child.stdout)
        print(f"large PDF: {large.stat().st_size / 2**20:.0f} MiB, {got['pages']} pages, "
              f"{got['links']} links, read in {got['seconds']:.2f} s")
        print(f"  parent's peak RSS: {got['peak'] / 1024:6.0f} MiB   baseline (before "
              f"reading) {got['before'] / 1024:.0f} MiB   (+{(got['peak'] - got['before']) / 1024:.0f}"
              f" MiB for a {large.stat().st_size / 2**20:.0f} MiB file)")
        print(f"  reading child's peak RSS: {got['child'] / 1024:6.0f} MiB   limit "
              f"{pdf.MEMORY_LIMIT / 2**20:.0f} MiB of address space")


if __name__ == "__main__":
    main()
