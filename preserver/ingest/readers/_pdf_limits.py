"""What one PDF may cost, handed from the reader (``pdf``) to its child process.

``pdf.limits()`` builds it from that module's constants when a report is read (so a
test that changes one, or passes its own ``Limits``, is honoured); ``_pdf_child``
enforces ``memory`` (the child's address space) and ``seconds`` (wall time, from the
child's start to its last byte), ``_pdf_extract`` the counts.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Limits:
    memory: int  # bytes of address space (RLIMIT_AS) of the child
    seconds: float  # wall time of the child, start to answer
    pages: int
    links: int  # link annotations in the document
    chars: int  # characters in the document
    page_chars: int  # characters on one page
    uri_bytes: int  # a longer link URI is left out

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Limits:
        return cls(**json.loads(text))
