"""Hostile data for the report and link-rot pages' tests: a report whose labels are markup
and a right-to-left override, ingested with ``preserver ingest`` into the ``web_archive``;
one of its links then marked removed by the platform with a hostile message, and given a
failed capture whose message is hostile too (written to the archive's database as a
check and a capture would write them: what the network says is untrusted text)."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.support.cli import run_cli

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
RLO_LABEL = f"{RLO}gpj.exe شاهد"  # ingest drops the override from a label
# a platform's words may carry one: shown, kept inside an element of its own direction
MESSAGE = f'</small><script>alert("platform")</script> {RLO}gpj.exe'
CAPTURE_MESSAGE = '"><img src=y onerror=alert(2)> timed out'
# the links of the hostile report, in report order; the third has a query to encode
URLS = ("http://127.0.0.1:9/hostile/one", "http://127.0.0.1:9/hostile/two",
        "http://127.0.0.1:9/hostile/three?a=1&b=2")


@dataclass(frozen=True, kw_only=True)
class HostileReport:
    path: Path
    sha256: str


def database_of(config: Path) -> Path:
    """The archive's SQLite file (``write_web_config``: ``data_dir`` beside the config)."""
    return config.parent / "archive" / "preserver.db"


def ingest_hostile(config: Path, root: Path) -> HostileReport:
    report = root / "hostile-report.txt"
    report.write_text(f"1- {SCRIPT}\n{URLS[0]}\n2- {IMG}\n{URLS[1]}\n3- {RLO_LABEL}\n{URLS[2]}\n",
                      encoding="utf-8")
    run_cli("ingest", str(report), config=config, check=0)
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    with closing(sqlite3.connect(database_of(config))) as db, db:
        db.execute("UPDATE targets SET status = 'removed_policy', last_status = "
                   "'removed_policy', last_message = ?, status_since = ?, last_checked_at = ? "
                   "WHERE key = ?", (MESSAGE, now, now, f"web:{URLS[0]}"))
        db.execute(
            "INSERT INTO captures (id, target_id, state, status, message, requested_url, "
            "started_at, finished_at, manifest_sha256, signature_sha256, key_id, seen_as) "
            "SELECT 'hostile-capture', id, 'failed', 'error', ?, url, ?, ?, ?, ?, ?, "
            "'anonymous, direct' FROM targets WHERE key = ?",
            (CAPTURE_MESSAGE, now, now, "e" * 64, "f" * 64, "d" * 64, f"web:{URLS[1]}"))
    return HostileReport(path=report, sha256=hashlib.sha256(report.read_bytes()).hexdigest())
