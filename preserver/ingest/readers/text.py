"""Plain-text reports (``.txt``, ``.text``): the decoded text, newlines normalized.

This is also the fallback for files without a known extension whose content is
text; it never alters the text beyond decoding and newline normalization, so
citation offsets match what the archivist sees in an editor.
"""

from __future__ import annotations

from preserver.ingest.readers._base import Reader, decode_text, looks_like_text

READER = Reader(
    media_type="text/plain",
    extensions=frozenset({".txt", ".text"}),
    sniff=looks_like_text,
    extract=decode_text,
)
