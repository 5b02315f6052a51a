"""``workers.lifetime``: a process is its pid and start time; a child started by
``run_child`` and the programs it starts die with the process that asked for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workers import process_start

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc, prctl")


def test_process_start_names_a_running_process_only() -> None:
    assert isinstance(process_start(os.getpid()), int)
    with subprocess.Popen(["sleep", "30"]) as sleeper:
        started = process_start(sleeper.pid)
        assert isinstance(started, int) and started >= (process_start(os.getpid()) or 0)
        sleeper.kill()
        while os.waitid(os.P_PID, sleeper.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
            time.sleep(0.01)
        assert process_start(sleeper.pid) is None  # a zombie runs nothing
    assert process_start(sleeper.pid) is None  # reaped: gone


_REFUSED_PRCTL = textwrap.dedent("""
    import subprocess, sys
    from workers import lifetime
    lifetime._prctl = lambda: lambda *args: -1  # prctl(2) refused (seccomp, gVisor)
    assert not lifetime.die_with_parent()
    lifetime.children_die_with_this_process()
    done = subprocess.run([sys.executable, "-c", "print('ran')"], capture_output=True, text=True)
    print(done.returncode, done.stdout.strip())
""")


def test_programs_still_run_where_prctl_is_refused() -> None:
    """Without the death signal a started program runs (its parent is alive): it is
    not exited before ``exec`` as if its parent were gone."""
    done = subprocess.run([sys.executable, "-c", _REFUSED_PRCTL], cwd=REPO, check=True,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.stdout.split() == ["0", "ran"]


_OWNER = textwrap.dedent("""
    import asyncio, sys
    from tests.workers.child_targets import hang_with_grandchild
    from workers._procs import run_child
    asyncio.run(run_child(hang_with_grandchild, (sys.argv[1],), name="test-child",
                          timeout=600, limit=100, parse=bytes))
""")


def _running(pid: int) -> bool:
    return process_start(pid) is not None


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


@pytest.mark.slow
def test_a_killed_owner_takes_its_child_and_grandchild_along(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    owner = subprocess.Popen([sys.executable, "-c", _OWNER, str(pid_file)], cwd=REPO,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    started: list[int] = []  # forkserver, child, grandchild
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and owner.poll() is None, "no grandchild started"
            time.sleep(0.05)
        grandchild = int(pid_file.read_text())
        child = _parent(grandchild)
        server = _parent(child)
        started += [server, child, grandchild]
        assert server != owner.pid and _parent(server) == owner.pid  # the child's parent
        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 10
        while any(_running(pid) for pid in (server, child, grandchild)):
            assert time.monotonic() < deadline, "a process outlived the killed owner"
            time.sleep(0.05)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        for pid in started:  # what outlived it (the defect this test is about)
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
