"""Errors raised by the capture and probe workers.

    WorkerError                  base: a worker could not do what was asked
    ├── AddressRefused           a connection would have gone to a non-public address
    │                            (also an ``OSError``/``socket.gaierror``, so network
    │                            code that handles resolution failures handles it)
    ├── CaptureFailed            the capture machinery itself failed (the child process
    │                            died, sent no result, or sent one we cannot read)
    ├── StoreFailed              this machine could not keep what was captured (the
    │                            store, or the work directory's disk: full, read-only,
    │                            failing, not writable)
    ├── PrintFailed              Chromium could not print a page to PDF (missing, did
    │                            not start, crashed, timed out)
    └── CookiesFileError         an access's cookies file cannot be used as a session
                                 (missing, unreadable, not Netscape format, no cookie)

Expected outcomes of a capture (removed, private, 429, geo-blocked, too large,
timed out) are statuses in the returned result, never exceptions (docs/style.md,
"Workers return results"). These errors are the unexpected rest, and the
refusal that the network guard raises deep inside yt-dlp, where it can only
travel as an exception.
"""

from __future__ import annotations

import socket


class WorkerError(Exception):
    """A worker could not complete its task."""


class AddressRefused(WorkerError, socket.gaierror):
    """A host resolved to an address that captures may not reach.

    Captures only fetch from public addresses: loopback, private, link-local
    (including the cloud metadata address 169.254.169.254), shared, multicast and
    reserved ranges are refused unless the configuration allows them
    (``network.allow_private``, ``network.allow_networks``). The message names
    the refused address: ``refused: 10.0.0.1 is not a public address``.
    """

    def __init__(self, address: str) -> None:
        self.address = address
        # EAI_NONAME keeps the ``gaierror`` shape that HTTP libraries expect.
        super().__init__(socket.EAI_NONAME, f"refused: {address} is not a public address")

    def __str__(self) -> str:
        return str(self.args[1])

    def __reduce__(self) -> tuple[type[AddressRefused], tuple[str]]:
        return (type(self), (self.address,))


class CaptureFailed(WorkerError):
    """The capture process failed without producing a result.

    This is a fault of the capture machinery (the child process crashed or was
    killed from outside), not a fact about the captured link.
    """


class StoreFailed(WorkerError):
    """This machine could not keep what was captured: the blob store failed, or the
    disk under the job's work directory is full, over quota, read-only or failing.

    Nothing is wrong with the link. The capture is abandoned and no partial capture
    is kept; the run retries the job once the operator has made room. Raised by
    ``workers.capture`` from the store's error or the filesystem's.
    """


class PrintFailed(WorkerError):
    """Chromium could not print a page to PDF: it is not installed where ``[browser]
    executable`` says, it did not start, it crashed, or the page took longer than the
    time allowed. The message says which; what was to be printed is not at fault.
    """


class CookiesFileError(WorkerError):
    """The cookies file of an ``[access.<group>]`` cannot be used as a session: it is
    missing or unreadable, too large, not in Netscape format (``# Netscape HTTP Cookie
    File``, seven tab-separated fields a line), or holds no cookie that is still valid.

    The message names the fault and, for a bad line, its number; it never quotes the
    file, which holds the account's secrets (``workers.cookies``).
    """
