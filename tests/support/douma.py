"""Where the real Douma report is when the workplace's shared folder sits beside the
repository (it is never copied into it): the tests that read it skip without it.

As a text report it gives 41 targets and 42 citations; every reader must give the same
from the same report in its own format.
"""

from __future__ import annotations

from pathlib import Path

DOUMA = Path(__file__).resolve().parents[3] / "shared" / "reports" / "dchrs-douma-2015-08-16.ar.txt"
