"""Capture certificates in exported packages, with the real Chromium: each capture's
``certificate.html`` and ``certificate.pdf`` state every hash (``pdftotext`` finds them,
``pdftoppm`` renders the pages), their commands work as written, the signed index names
them so both verifiers catch one changed, removed or added, a package exported before
certificates still verifies, and without a browser the export says what it left out."""

from __future__ import annotations

import asyncio
import hashlib
import html
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import bagit
import pytest
from PIL import Image

from manifests import canonical_json, load_signing_key, parse_canonical, sign
from manifests.package_layout import PackageIndex
from preserver.archive import open_archive
from preserver.capture.record import JobRecord, record_result
from preserver.config import load_config
from preserver.custody.ledger import make_checkpoint
from preserver.db.queue import claim
from preserver.export.package import export_package
from preserver.ingest.report import ingest_report
from tests.support.cli import run_cli
from tests.support.evidence import Built
from workers import CapturedFile, CaptureResult, CaptureState, Status

pytestmark = pytest.mark.slow


def _captures(pkg: Path) -> list[Path]:
    return sorted(p.parent for p in (pkg / "data" / "captures").glob("*/*/manifest.json"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pdftotext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def _pages(pdf: Path, out: Path, *pages: str) -> list[Image.Image]:
    """``pdftoppm -png -r 50`` of the PDF (only ``-f 1 -l 1`` given as pages), as images."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "50", *pages, str(pdf), str(out / "p")],
                   check=True, capture_output=True)
    return [Image.open(p).convert("RGB") for p in sorted(out.glob("p*.png"))]


def _verify(pkg: Path, built: Built) -> tuple[int, list[dict[str, str]]]:
    done = run_cli("verify", str(pkg), "--tsa-roots", str(built.roots), "--key-id", built.key_id,
                   "--json")
    return done.code, json.loads(done.stdout) if done.stdout.strip() else []


def _standalone(pkg: Path, built: Built) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", "data/verify_package.py", ".", "--tsa-roots",
                           str(built.roots), "--key-id", built.key_id], cwd=pkg,
                          capture_output=True, text=True, check=False, timeout=120)


def _failed(findings: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    return [(f["subject"], f["check"], f["detail"]) for f in findings
            if f["outcome"] == "failed"]


def _copy(built: Built, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built.pkg, tmp_path / "pkg"))


def _rebag(pkg: Path) -> None:
    bagit.Bag(str(pkg)).save(manifests=True)


# -- what a certificate holds ---------------------------------------------------------------


def test_each_capture_carries_certificates_that_state_every_hash(built: Built,
                                                                 tmp_path: Path) -> None:
    index = PackageIndex.from_bytes((built.pkg / "data" / "package.json").read_bytes())
    assert len(index.captures) == 2
    for listed in index.captures:
        folder = built.pkg / listed.path
        html_file, pdf = folder / "certificate.html", folder / "certificate.pdf"
        assert listed.certificates == {"certificate.html": _sha(html_file),
                                       "certificate.pdf": _sha(pdf)}
        manifest = json.loads((folder / "manifest.json").read_bytes())
        assert manifest["files"]
        hashes = [f["sha256"] for f in manifest["files"]] + [
            _sha(folder / "manifest.json"), _sha(folder / "manifest.json.sig"), built.key_id]
        for text in (_pdftotext(pdf), html.unescape(html_file.read_text("utf-8"))):
            for sha in hashes:
                assert sha in text  # each on one line, never broken
            flat = re.sub(r"[\s-]", "", text)  # a long name may wrap (pdftotext drops a "-")
            for f in manifest["files"]:
                assert re.sub(r"[\s-]", "", f"files/{f['name']}") in flat
            assert manifest["target"]["url"] in text and manifest["capture_id"] in text
        labels = _pdftotext(pdf)
        assert "الضحية" in labels and "douma-a.txt" in labels
        [page] = _pages(pdf, tmp_path / listed.capture_id, "-f", "1", "-l", "1")
        assert page.size[0] in (413, 414) and page.size[1] in (585, 586)  # A4 at 50 dpi
        ink = page.convert("L").tobytes()
        assert sum(1 for v in ink if v < 128) > 2000  # text on the page, not a blank one


def test_the_certificate_commands_work_as_written(built: Built) -> None:
    for folder in _captures(built.pkg):
        page = (folder / "certificate.html").read_text("utf-8")
        commands = [html.unescape(c) for c in re.findall(r"<pre>(.*?)</pre>", page,
                                                              re.DOTALL)]
        assert len(commands) == 5
        cd, listing, signature, key, whole = commands
        assert (built.pkg / cd.removeprefix("cd ").strip()).resolve() == folder.resolve()
        for command, expect in ((listing, r"(?m)^files/.*: OK$"),
                                (signature, "Signature Verified Successfully"),
                                (key, built.key_id)):
            done = subprocess.run(["bash", "-c", command], cwd=folder, capture_output=True,
                                  text=True, check=False)
            assert done.returncode == 0 and re.search(expect, done.stdout), command + done.stderr
        whole = whole.replace("python3", f"{sys.executable} -I") + f" --tsa-roots {built.roots}"
        done = subprocess.run(["bash", "-c", whole], cwd=folder, capture_output=True, text=True,
                              check=False, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert re.search(r"PASS  data/captures/.*/certificate\.pdf  \[certificate\]", done.stdout)


# -- the verifiers hold the certificates to the signed index ----------------------------------


@pytest.mark.parametrize("name", ["certificate.pdf", "certificate.html"])
def test_a_changed_certificate_fails_both_verifiers(built: Built, tmp_path: Path,
                                                   name: str) -> None:
    pkg = _copy(built, tmp_path)
    path = _captures(pkg)[0] / name
    data = path.read_bytes()
    path.write_bytes(data.replace(b"complete", b"COMPLETE") if name.endswith(".html")
                     else data[:-2] + bytes([data[-2] ^ 1]) + data[-1:])
    assert path.read_bytes() != data
    _rebag(pkg)  # as someone covering their tracks would
    code, findings = _verify(pkg, built)
    rel = path.relative_to(pkg).as_posix()
    assert code == 1
    assert _failed(findings) == [(rel, "certificate",
                                  "differs from the one the package index signs (edited?)")]
    done = _standalone(pkg, built)
    assert done.returncode == 1
    assert re.findall(r"(?m)^FAIL .*$", done.stdout) == [
        f"FAIL  {rel}  [certificate]  edited, or missing"]


def test_an_unknown_file_beside_the_certificates_fails(built: Built, tmp_path: Path) -> None:
    pkg = _copy(built, tmp_path)
    extra = _captures(pkg)[1] / "certificate.txt"
    extra.write_text("a note slipped in\n")
    _rebag(pkg)
    rel = extra.relative_to(pkg).as_posix()
    code, findings = _verify(pkg, built)
    assert code == 1
    assert _failed(findings) == [(rel, "contents", "not part of the evidence package (added?)")]
    done = _standalone(pkg, built)
    assert done.returncode == 1
    assert f"FAIL  {rel}  [index]  not a file the signed package.json lists" in done.stdout


def test_a_removed_certificate_fails(built: Built, tmp_path: Path) -> None:
    pkg = _copy(built, tmp_path)
    gone = _captures(pkg)[0] / "certificate.pdf"
    gone.unlink()
    _rebag(pkg)
    rel = gone.relative_to(pkg).as_posix()
    code, findings = _verify(pkg, built)
    assert code == 1
    assert _failed(findings) == [(rel, "certificate",
                                  "listed in package.json but missing (removed?)")]
    done = _standalone(pkg, built)
    assert done.returncode == 1 and f"FAIL  {rel}  [index]  package.json lists it" in done.stdout


def test_a_package_exported_before_certificates_still_verifies(built: Built,
                                                               tmp_path: Path) -> None:
    """The same package as the exporter wrote it before certificates: none beside the
    captures, and an index (signed by the same key) whose captures have no
    ``certificates`` member."""
    pkg = _copy(built, tmp_path)
    for path in pkg.glob("data/captures/*/*/certificate.*"):
        path.unlink()
    raw = parse_canonical((pkg / "data" / "package.json").read_bytes())
    assert isinstance(raw, dict) and isinstance(raw["captures"], list)
    for capture in raw["captures"]:
        assert isinstance(capture, dict)
        del capture["certificates"]
    index = canonical_json(raw)
    key = load_signing_key(built.tmp / "archive" / "keys")
    (pkg / "data" / "package.json").write_bytes(index)
    (pkg / "data" / "package.json.sig").write_bytes(sign(key, index))
    _rebag(pkg)
    code, findings = _verify(pkg, built)
    assert code == 0, _failed(findings)
    assert not [f for f in findings if f["check"] == "certificate"]
    done = _standalone(pkg, built)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[certificate]" not in done.stdout
    # and a certificate slipped into such a package is an added file
    shutil.copy(built.pkg / _captures(built.pkg)[0].relative_to(built.pkg) / "certificate.html",
                _captures(pkg)[0] / "certificate.html")
    _rebag(pkg)
    code, findings = _verify(pkg, built)
    assert code == 1 and [c for _, c, _ in _failed(findings)] == ["contents"]
    assert _standalone(pkg, built).returncode == 1


def test_an_index_naming_an_unknown_certificate_is_a_failed_check(built: Built) -> None:
    from manifests import VerificationError

    raw = parse_canonical((built.pkg / "data" / "package.json").read_bytes())
    assert isinstance(raw, dict) and isinstance(raw["captures"], list)
    first = raw["captures"][0]
    assert isinstance(first, dict) and isinstance(first["certificates"], dict)
    for certificates, match in (({"../../x.html": "0" * 64}, "members are"),
                                ({"certificate.pdf": "XYZ"}, "not 64 lowercase hex"),
                                (["certificate.pdf"], "not a JSON object")):
        first["certificates"] = certificates
        with pytest.raises(VerificationError, match=match):
            PackageIndex.from_bytes(canonical_json(raw))


# -- without a browser ------------------------------------------------------------------------


@pytest.mark.parametrize(("browser", "why"), [
    ("enabled = false", "[browser] enabled = false"),
    ('executable = "/nonexistent/chromium"',
     "Chromium not found ([browser] executable = '/nonexistent/chromium')"),
], ids=["disabled", "missing"])
def test_export_without_a_browser_writes_html_and_says_so(built: Built, tmp_path: Path,
                                                          browser: str, why: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(built.config.read_text("utf-8") + f"[browser]\n{browser}\n", "utf-8")
    out = tmp_path / "pkg"
    done = run_cli("export", "--report", "douma-a.txt", str(out), config=config)
    assert done.code == 0, done.stderr
    notices = [line for line in done.stderr.splitlines() if line.startswith("notice:")]
    assert len(notices) == 1 and why in notices[0], done.stderr
    assert "not printed to PDF" in notices[0]
    assert sorted(p.name for p in out.glob("data/captures/*/*/certificate.*")) == [
        "certificate.html"] * 2
    verify_md = (out / "data" / "VERIFY.md").read_text("utf-8")
    assert why in verify_md and "not printed to PDF" in verify_md
    code, findings = _verify(out, built)
    assert code == 0, _failed(findings)
    assert _standalone(out, built).returncode == 0


# -- a screenshot, a hostile label and a hostile title, through record and export ---------------


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 400), colour).save(out, format="PNG")
    return out.getvalue()


async def _recorded_with_screenshot(tmp_path: Path, title: str) -> Path:
    """An archive holding one capture whose result is built here, as the browser worker
    will return it (that worker is not part of this change); the rest is the real
    record, checkpoint and export."""
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\noperator = "test-archivist"\n', encoding="utf-8")
    report = tmp_path / "report.txt"
    report.write_text("1- <script>alert(1)</script> شاهد\nhttps://example.org/witness\n",
                      encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as archive:
        await ingest_report(archive, report)
        async with archive.db.session() as s:
            job = await claim(s)
        assert job is not None
        files = []
        for role, name, data, media_type in (
                ("screenshot", "web-1.screenshot.png", _png((230, 0, 0)), "image/png"),
                ("dom", "web-1.dom.html", f"<title>{title}</title>".encode(), "text/html")):
            stored = archive.store.put_bytes(data)
            files.append(CapturedFile(role=role, name=name, sha256=stored.sha256,
                                      size=stored.size, media_type=media_type))
        result = CaptureResult(state=CaptureState.COMPLETE, status=Status.AVAILABLE, message="",
                               files=tuple(files), metadata={"title": title},
                               started_at="2026-11-26T10:00:00.000000Z",
                               finished_at="2026-11-26T10:00:03.000000Z")
        await record_result(archive, JobRecord(job_id=job.id, target_id=job.target_id,
                                               target_key=job.target_key, url=job.url,
                                               platform=job.platform), result, retry_in=None)
        await make_checkpoint(archive)
        await export_package(archive, report="report.txt", out=tmp_path / "pkg", zip=False)
    return tmp_path / "pkg"


def test_screenshot_embedded_and_hostile_text_escaped(tmp_path: Path) -> None:
    title = "<img src=x onerror=alert(1)>\u202eevil"
    pkg = asyncio.run(_recorded_with_screenshot(tmp_path, title))
    [folder] = _captures(pkg)
    page = (folder / "certificate.html").read_text("utf-8")
    assert "<script" not in page and "<img src=x" not in page and "\u202e" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; شاهد" in page  # the label, as ingested
    assert "&lt;img src=x onerror=alert(1)&gt;[U+202E]evil" in page  # the title
    assert '<img src="files/web-1.screenshot.png" alt="the screenshot">' in page
    pdf = folder / "certificate.pdf"
    manifest = json.loads((folder / "manifest.json").read_bytes())
    text = _pdftotext(pdf)
    for f in manifest["files"]:
        assert f["sha256"] in text
    images = _pages(pdf, tmp_path / "pages")
    red = [sum(1 for i in range(0, len(rgb), 3) if rgb[i] > 200 and rgb[i + 1] < 60
               and rgb[i + 2] < 60) for rgb in (img.tobytes() for img in images)]
    assert max(red) > 20_000, red  # the screenshot, inside the PDF itself
    done = subprocess.run([sys.executable, "-I", "data/verify_package.py", "."], cwd=pkg,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 3 and "FAIL" not in done.stdout  # no key pinned, no token
