"""Evidence packages: one report's BagIt bag (report, captures, manifests, capture
certificates, custody proofs, VERIFY.md, a standalone verifier), verified as a
recipient would before it is published.

- ``package``: ``export_package`` — gather, write, self-check, publish;
- ``write``: the payload and the ZIP;
- ``certificate``: a capture certificate as one HTML page; ``certify``: each capture's
  ``certificate.html`` and, printed by Chromium, ``certificate.pdf``;
- ``readme``: ``VERIFY.md``.

Public names are imported on first use (``preserver._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.export.package import ExportResult, export_package
    from preserver.export.readme import render_verify_md
    from preserver.export.write import write_payload, write_zip

__all__ = [
    "ExportResult",
    "export_package",
    "render_verify_md",
    "write_payload",
    "write_zip",
]

__getattr__, __dir__ = exports(__name__)
