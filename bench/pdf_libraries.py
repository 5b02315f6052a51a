"""Which PDF library reads Arabic reports right, and at what cost (docs/reports.md).

    .venv/bin/python bench/pdf_libraries.py [--pages 300]

Makes the sample PDFs with real producers (tests/support/pdf_reports.py): Chromium's
print of an Arabic page (headings, "5- name" entries, a link behind "شاهد الفيديو", a
URL wrapped over four lines, a link in a table), of the Douma report (when
/work/shared is here) and of a ``--pages`` long report; fpdf2 with arabic-reshaper +
python-bidi (visual-order presentation forms). Then, for each library installed
(pdfminer.six, pypdf, pypdfium2's own text, PyMuPDF, and preserver's reader: pypdfium2
with the layout of ``preserver.ingest.readers._pdf_layout``), each in a child process,
prints side by side:

- annotations: URI link annotations the library's API gives, of those in the file;
- entries: how many of the sample's numbered-entry lines come out as a line beginning
  (logical order, NFKC), over both producers;
- douma: word-sequence similarity of the Douma PDF's text to the .txt (NFKC);
- wrapped: is the wrapped URL whole in the text;
- seconds and peak RSS (MiB, the child's ru_maxrss) to extract the long report.

pdfminer.six, pypdf and PyMuPDF are not preserver's dependencies: install them to
compare (``pip install pdfminer.six pypdf pymupdf``); a library missing is skipped.
"""

from __future__ import annotations

import argparse
import html
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from tests.support.pdf_reports import Line, html_page, print_pages, reshaped_pdf

DOUMA = HERE.parent / "shared" / "reports" / "dchrs-douma-2015-08-16.ar.txt"
WRAPPED = "https://www.example.org/a/very/long/path/that/wraps/over/two/lines/report.html"
ENTRIES = ["5- سمير الحموري أبو صلاح", "6- عمر محضر الشامية أبو فارس", "7- إبراهيم سويدان",
           "9- عمر خليل كريم (أبو خليل)"]
SAMPLE = html_page(f"""
<h1>تقرير عن مجزرة دوما</h1><p>وكما هي العادة، وفي نزيف مستمر للدماء السورية</p>
<p>5- سمير الحموري أبو صلاح</p><p><a href="https://youtu.be/u7qI99N8OM8">شاهد الفيديو</a></p>
<p>6- عمر محضر الشامية أبو فارس</p><p>https://youtu.be/aS2aYAJEb0M</p>
<p style="width:180px;word-break:break-all" dir="ltr">{WRAPPED}</p>
<table><tr><td>7- إبراهيم سويدان</td><td><a href="https://www.facebook.com/902054899875426">رابط</a>
</td></tr></table><p>9- عمر خليل كريم (أبو خليل)</p>""")

# Each child: ``text`` (all pages) and ``annotations`` (URI count) for one library.
CHILD = r"""
import json, resource, sys, time
name, path = sys.argv[1], sys.argv[2]
started = time.monotonic()
annotations = 0
if name == "pdfminer.six":
    from pdfminer.high_level import extract_text
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdftypes import resolve1
    text = extract_text(path)
    with open(path, "rb") as fh:
        for page in PDFPage.get_pages(fh):
            for annot in resolve1(page.annots) or []:
                action = resolve1(resolve1(annot).get("A")) or {}
                annotations += bool(resolve1(action.get("URI")))
elif name == "pypdf":
    from pypdf import PdfReader
    reader = PdfReader(path)
    parts = []
    for page in reader.pages:
        parts.append(page.extract_text())
        for annot in page.get("/Annots") or []:
            annotations += "/URI" in (annot.get_object().get("/A") or {})
    text = "\n".join(parts)
elif name == "pypdfium2 (own text)":
    import pypdfium2 as pdfium, pypdfium2.raw as raw, ctypes
    document = pdfium.PdfDocument(path)
    parts = []
    for page in document:
        parts.append(page.get_textpage().get_text_range().replace("\r\n", "\n"))
        position, link = ctypes.c_int(0), raw.FPDF_LINK()
        while raw.FPDFLink_Enumerate(page, ctypes.byref(position), ctypes.byref(link)):
            action = raw.FPDFLink_GetAction(link)
            annotations += bool(action) and raw.FPDFAction_GetType(action) == raw.PDFACTION_URI
    text = "\n".join(parts)
elif name == "PyMuPDF":
    import pymupdf
    parts = []
    for page in pymupdf.open(path):
        parts.append(page.get_text())
        annotations += sum(1 for link in page.get_links() if link.get("uri"))
    text = "\n".join(parts)
else:
    from pathlib import Path
    from preserver.ingest.readers import read_report
    text = read_report(Path(path)).text
    annotations = text.count(" <http")
seconds = time.monotonic() - started
print(json.dumps({"text": text, "annotations": annotations, "seconds": seconds,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""
LIBRARIES = ("pdfminer.six", "pypdf", "pypdfium2 (own text)", "PyMuPDF", "preserver")


def run(library: str, path: Path) -> dict[str, object] | None:
    done = subprocess.run([sys.executable, "-c", CHILD, library, str(path)], check=False,
                          capture_output=True, text=True, cwd=HERE, timeout=900,
                          env={"PYTHONPATH": str(HERE), "PATH": "/usr/bin:/bin"})
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return None if "ModuleNotFoundError" in last else {"error": last}
    result: dict[str, object] = json.loads(done.stdout)
    return result


def nfkc_lines(text: str) -> set[str]:
    import unicodedata

    return {" ".join(unicodedata.normalize("NFKC", line).split()) for line in text.split("\n")}


def similarity(one: str, other: str) -> float:
    import difflib
    import unicodedata

    a = unicodedata.normalize("NFKC", one).split()
    b = unicodedata.normalize("NFKC", other).split()
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def long_report(pages: int) -> str:
    body = []
    for page in range(pages):
        body.append('<div style="break-before:page">')
        for entry in range(7):
            n = page * 7 + entry + 1
            body.append(f"<p>{n}- محمود محضر الشامية أبو صياح وكما هي العادة، وفي نزيف مستمر "
                        f"للدماء السورية، لا زال المدنيون في المناطق الخاضعة</p>"
                        f'<p><a href="https://youtu.be/v{n:010d}">شاهد الفيديو</a></p>')
        body.append("</div>")
    return html_page("".join(body))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pages = {"sample": SAMPLE, "long": long_report(args.pages)}
        if DOUMA.exists():
            lines = DOUMA.read_text(encoding="utf-8").splitlines()
            pages["douma"] = html_page("".join(f"<p>{html.escape(x)}</p>" for x in lines))
        for (name, _), data in zip(pages.items(), print_pages(list(pages.values()), timeout=600),
                                   strict=True):
            (root / f"{name}.pdf").write_bytes(data)
        (root / "reshaped.pdf").write_bytes(reshaped_pdf(
            [Line(text=e) for e in ENTRIES] + [Line(text="شاهد الفيديو",
                                                    link="https://youtu.be/aS2aYAJEb0M")]))
        print(f"{'library':<22}{'annotations':>12}{'entries':>9}{'douma':>7}{'wrapped':>9}"
              f"{'seconds':>9}{'RSS MiB':>9}   ({args.pages} pages, "
              f"{(root / 'long.pdf').stat().st_size / 2**20:.1f} MiB)")
        for library in LIBRARIES:
            sample = run(library, root / "sample.pdf")
            if sample is None:
                print(f"{library:<22}  not installed")
                continue
            if "error" in sample:
                print(f"{library:<22}  failed: {sample['error']}")
                continue
            reshaped = run(library, root / "reshaped.pdf") or {}
            found = (nfkc_lines(str(sample["text"])), nfkc_lines(str(reshaped.get("text", ""))))
            entries = sum(any(line.startswith(entry) for line in lines)
                          for entry in ENTRIES for lines in found)
            annotations = f"{sample['annotations']}+{reshaped.get('annotations', '?')}/2+1"
            douma = "-"
            if (root / "douma.pdf").exists():
                got = run(library, root / "douma.pdf") or {}
                douma = f"{similarity(DOUMA.read_text(encoding='utf-8'), str(got.get('text'))):.3f}"
            long = run(library, root / "long.pdf") or {}
            print(f"{library:<22}{annotations:>12}{f'{entries}/{2 * len(ENTRIES)}':>9}"
                  f"{douma:>7}{'yes' if WRAPPED in str(sample['text']) else 'no':>9}"
                  f"{float(str(long.get('seconds', 'nan'))):>9.2f}"
                  f"{int(str(long.get('rss', 0))) / 1024:>9.0f}")


if __name__ == "__main__":
    main()
