"""One package verification in progress: the findings so far, and the facts earlier
steps established for later ones (``manifests.package_verify`` runs the steps)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from manifests.checkpoint import Checkpoint
from manifests.errors import (
    InvalidCertificate,
    InvalidCheckpoint,
    InvalidKey,
    InvalidManifest,
    InvalidTimestamp,
    VerificationError,
)
from manifests.findings import FAILED, PASSED, Finding, FindingOutcome
from manifests.package import Package
from manifests.package_layout import MAX_SMALL, CustodyEvent, PackageIndex
from storage import hash_stream

MAX_FAILED = 1000  # failed findings listed; the rest are counted in one "and N more"

# what a check may raise when the evidence is false or unreadable
_FAILURES = (VerificationError, InvalidCheckpoint, InvalidTimestamp, InvalidKey,
             InvalidManifest, InvalidCertificate)


@dataclass
class Check:
    """What a block run under ``Run.check`` concluded."""

    passed: bool = False
    detail: str = ""


@dataclass
class Run:
    """The package, the caller's trust roots, the findings, and what is proven so far."""

    package: Package
    trust_roots: Sequence[bytes]
    findings: list[Finding] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # path -> actual SHA-256
    accounted: set[str] = field(default_factory=set)  # payload files some check explained
    public_key_pem: bytes | None = None
    key_id: str = ""
    index: PackageIndex | None = None
    checkpoint: Checkpoint | None = None
    times: dict[int, str] = field(default_factory=dict)  # checkpoint size -> verified time
    stamped: dict[int, str] = field(default_factory=dict)  # the same, once consistent
    events: dict[int, CustodyEvent] = field(default_factory=dict)  # proven events
    failed: int = 0  # failed findings, listed or not

    def add(self, subject: str, check: str, outcome: FindingOutcome, detail: str = "") -> None:
        if outcome == FAILED:
            self.failed += 1
            if self.failed > MAX_FAILED:
                return
        self.findings.append(Finding(subject=subject, check=check, outcome=outcome,
                                     detail=detail))

    @contextmanager
    def check(self, subject: str, check: str) -> Iterator[Check]:
        """Run the block as one check: passed (with ``Check.detail``) if it completes,
        failed with the message if it raises a verification or parse error."""
        result = Check()
        try:
            yield result
        except _FAILURES as exc:
            self.add(subject, check, FAILED, str(exc))
        else:
            result.passed = True
            self.add(subject, check, PASSED, result.detail)

    def finish(self) -> list[Finding]:
        """The findings, the failures beyond ``MAX_FAILED`` counted in one more."""
        if self.failed > MAX_FAILED:
            self.findings.append(Finding(
                subject="package", check="findings", outcome=FAILED,
                detail=f"and {self.failed - MAX_FAILED} more failed checks, not listed"))
        return self.findings

    def read(self, name: str) -> bytes:
        self.accounted.add(name)
        return self.package.read(name, limit=MAX_SMALL)

    def digest(self, name: str) -> str:
        """The SHA-256 of a file, streamed once and remembered."""
        if name not in self.digests:
            try:
                with self.package.open_file(name) as fh:
                    self.digests[name] = hash_stream(fh)[0]
            except (OSError, zipfile.BadZipFile, NotImplementedError) as exc:  # CRC, method
                raise VerificationError(f"{name}: unreadable: {exc}") from exc
        return self.digests[name]
