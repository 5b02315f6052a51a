"""The PDF reader's child process: PDFium runs in it, never in preserver's own process.

PDFium's memory and time are its own until it returns: a 127 KB PDF of 5,000,000
drawing operators needed 1.7 GB and 12 s to load one page, a 1.9 KB one drawing one
text block 20,000 times 4.5 GB to build its text layer, all before any check of ours
could run. So the whole extraction (open, every page, layout) runs in a child
(``python -m preserver.ingest.readers._pdf_child``, a fresh interpreter: nothing of
the parent's threads, sockets or event loop, and no capture forkserver) with:

- an address-space limit (``RLIMIT_AS`` = ``Limits.memory``): an allocation over it
  fails, and PDFium aborts (SIGABRT) or Python raises ``MemoryError`` (exit
  ``_EXIT_MEMORY``): "needs more than N MiB to read";
- a wall-time limit (``Limits.seconds``) from its start to its last byte: at the
  deadline its process group (its own session) is killed: "took longer than N s";
- any other death (PDFium's segfault) is "the PDF reader crashed (signal N, NAME)";
- it dies with the thread that started it (``PR_SET_PDEATHSIG``), so a killed
  preserver leaves no reader running.

The report is handed over as the descriptor the parent opened and checked (a regular
file beginning ``%PDF-``); PDFium opens ``/proc/self/fd/N``, the same file even if its
path was replaced since. The answer comes back on the child's stdout (its fd 1 is
pointed at stderr, i.e. /dev/null, first, so nothing PDFium prints can mix in): one
JSON line, ``{"bytes": N, "page_lines": [...]}`` then the text as N bytes of UTF-8, or
``{"error": "one line"}``. The parent reads the text into one buffer of exactly N
bytes and decodes it once: two copies at most (bytes, then str), whatever its size.
"""

from __future__ import annotations

import ctypes
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from preserver.errors import InvalidReport
from preserver.ingest.readers._base import Extracted
from preserver.ingest.readers._pdf_limits import Limits

MODULE = "preserver.ingest.readers._pdf_child"
_EXIT_MEMORY = 3
_MAX_HEADER = 1 << 20  # bytes of the JSON line (5,000 page starts take about 40 KB)
_READ = 1 << 16
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_ROOT = str(Path(__file__).resolve().parents[3])  # the directory holding ``preserver``


@dataclass(frozen=True, kw_only=True)
class _Answer:
    extracted: Extracted | None = None
    error: str | None = None


class _Late(Exception):
    pass


def run(fd: int, path: Path, limits: Limits) -> Extracted:
    """Read the PDF open on ``fd`` (``path`` names it) in a child held to ``limits``."""
    deadline = time.monotonic() + limits.seconds
    paths = [_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])]
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", MODULE, str(fd), str(path), limits.to_json(),
             str(os.getpid())],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            pass_fds=(fd,), start_new_session=True,
            env=os.environ | {"PYTHONPATH": os.pathsep.join(paths)})
    except OSError as exc:
        raise InvalidReport(f"cannot start the PDF reader: {exc.strerror or exc}") from exc
    try:
        answer = _collect(child, deadline, limits)
        if answer is None:  # how it ended tells why
            child.wait(timeout=max(deadline - time.monotonic(), 0.0))
    except (_Late, subprocess.TimeoutExpired):
        answer = None
        late = True
    else:
        late = False
    finally:
        _stop(child)
    if late:
        raise InvalidReport(f"took longer than {limits.seconds:g} s to read")
    return _verdict(child.returncode, answer, limits)


def _verdict(code: int, answer: _Answer | None, limits: Limits) -> Extracted:
    if answer is not None and answer.error is not None:
        raise InvalidReport(answer.error)
    if answer is not None and answer.extracted is not None:
        return answer.extracted
    if code == _EXIT_MEMORY or code == -signal.SIGABRT:  # PDFium aborts when out of memory
        mib = limits.memory >> 20
        raise InvalidReport(f"needs more than {mib} MiB to read (limit {mib} MiB)")
    if code < 0:
        raise InvalidReport(f"the PDF reader crashed (signal {-code}, {_signal_name(-code)})")
    raise InvalidReport(f"the PDF reader failed (exit status {code}, no answer)")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"


def _collect(child: subprocess.Popen[bytes], deadline: float, limits: Limits) -> _Answer | None:
    """The child's answer, read before ``deadline`` (else ``_Late``); None for none."""
    assert child.stdout is not None
    fd = child.stdout.fileno()
    os.set_blocking(fd, False)
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)

        def wait() -> None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise _Late

        header = bytearray()
        while b"\n" not in header:
            wait()
            chunk = os.read(fd, _READ)
            if not chunk or len(header) + len(chunk) > _MAX_HEADER:
                return None
            header += chunk
        line, _, rest = bytes(header).partition(b"\n")
        del header
        try:
            fields = json.loads(line)
            if "error" in fields:
                return _Answer(error=" ".join(str(fields["error"]).split()))
            size = int(fields["bytes"])
            starts = tuple(int(start) for start in fields["page_lines"])
        except (ValueError, TypeError, KeyError):
            return None
        if not 0 <= size <= limits.memory:  # no more than the child could hold
            return None
        body = bytearray(size)
        with memoryview(body) as view:
            filled = min(len(rest), size)
            view[:filled] = rest[:filled]
            del rest
            while filled < size:
                wait()
                got = os.readv(fd, [view[filled:]])
                if not got:
                    return None
                filled += got
    try:
        text = body.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None
    del body
    return _Answer(extracted=Extracted(text=text, page_lines=starts))


def _stop(child: subprocess.Popen[bytes]) -> None:
    """The child and its process group killed if still running (its answer read, it has
    nothing left to do but free its memory), and reaped."""
    if child.poll() is None:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()
    if child.stdout is not None:
        child.stdout.close()


def main(argv: list[str]) -> int:
    """The child: read the PDF on descriptor ``argv[0]`` and write the answer."""
    fd, path, limits, parent = int(argv[0]), Path(argv[1]), Limits.from_json(argv[2]), argv[3]
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _die_with_parent(int(parent))
    _limit_memory(limits.memory)
    data = b""
    try:
        from preserver.ingest.readers._pdf_extract import extract

        proc = Path(f"/proc/self/fd/{fd}")
        extracted = extract(proc if proc.exists() else path, limits)
        data = extracted.text.encode("utf-8", "surrogatepass")
        header: dict[str, object] = {"bytes": len(data),
                                     "page_lines": list(extracted.page_lines)}
        del extracted
    except InvalidReport as exc:
        header = {"error": str(exc)}
    except MemoryError:
        os._exit(_EXIT_MEMORY)
    except Exception as exc:  # noqa: BLE001 - a bug of ours, reported as one line
        header = {"error": f"the PDF reader failed ({type(exc).__name__}: {exc})"}
    out.write(json.dumps(header).encode("ascii") + b"\n")
    out.write(data)
    out.flush()
    return 0


def _die_with_parent(parent: int) -> None:
    """SIGKILL when the thread that started this process dies (Linux; else nothing)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return
    prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # it died before the request
        os._exit(1)


def _limit_memory(limit: int) -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
