"""``run_child``: real children from the capture forkserver, answering, failing and hanging."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.plugins import plugin_env
from tests.workers.child_targets import (
    answer,
    answer_then_linger,
    exit_with,
    extractor_modules_loaded,
    hang_with_grandchild,
)
from workers._procs import run_child
from workers.errors import CaptureFailed

REPO = Path(__file__).resolve().parents[2]


def _no_children_left() -> bool:
    return not [p for p in multiprocessing.active_children() if p.name.startswith("test-child")]


async def test_answer_is_parsed() -> None:
    got = await run_child(answer, (b'{"status": "ok"}',), name="test-child", timeout=60.0,
                          limit=100, parse=bytes.decode)
    assert got == '{"status": "ok"}'
    assert _no_children_left()


async def test_children_inherit_every_extractor_module_loaded() -> None:
    """The generic extractor asks every extractor for embeds in each web page, which
    imports the module behind each lazy one; the forkserver has done it once."""
    got = await run_child(extractor_modules_loaded, (), name="test-child", timeout=60.0,
                          limit=100, parse=bytes.decode)
    modules, lazy = map(int, got.split())
    assert modules > 900
    assert lazy == 0


@pytest.mark.slow
async def test_child_that_lingers_after_answering_gets_its_grace() -> None:
    start = time.monotonic()
    got = await run_child(answer_then_linger, (b"done", 0.5), name="test-child", timeout=60.0,
                          limit=100, parse=bytes, grace=30.0)
    # seen on the sentinel when it exits, not after the grace and not killed before it
    assert got == b"done"
    assert 0.5 <= time.monotonic() - start < 10.0


async def test_too_much_output_is_refused() -> None:
    with pytest.raises(CaptureFailed, match="child process sent more than 10 bytes"):
        await run_child(answer, (b"x" * 11,), name="test-child", timeout=60.0, limit=10,
                        parse=bytes)
    assert _no_children_left()


async def test_bad_answer_is_what_parse_says() -> None:
    def parse(data: bytes) -> bytes:
        raise CaptureFailed(f"unreadable: {data!r}")

    with pytest.raises(CaptureFailed, match="unreadable: b'garbage'"):
        await run_child(answer, (b"garbage",), name="test-child", timeout=60.0, limit=100,
                        parse=parse)


async def test_no_answer_names_the_exit_code() -> None:
    with pytest.raises(CaptureFailed, match=r"^test process ended without a result \(exit code 3\)$"):
        await run_child(exit_with, (3,), name="test-child", timeout=60.0, limit=100,
                        parse=bytes, what="test process")


@pytest.mark.slow
async def test_deadline_kills_the_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    await run_child(answer, (b"warm",), name="test-child", timeout=60.0, limit=100, parse=bytes)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        await run_child(hang_with_grandchild, (str(pid_file),), name="test-child", timeout=3.0,
                        limit=100, parse=bytes)
    assert time.monotonic() - start < 3.0 + 1.0 + 5.0  # deadline, SIGTERM wait, SIGKILL wait
    assert _no_children_left()
    grandchild = int(pid_file.read_text(encoding="ascii"))
    for _ in range(100):  # the grandchild is reparented to init, which reaps it
        if not Path(f"/proc/{grandchild}").exists() or _is_zombie(grandchild):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"grandchild {grandchild} outlived the kill of its group")


async def test_watch_raising_stops_the_child(tmp_path: Path) -> None:
    class Enough(Exception):
        pass

    def watch() -> None:
        raise Enough("seen enough")

    with pytest.raises(Enough, match="seen enough"):
        await run_child(hang_with_grandchild, (str(tmp_path / "pid"),), name="test-child",
                        timeout=60.0, limit=100, parse=bytes, watch=watch, watch_interval=0.05)
    assert _no_children_left()


@pytest.mark.slow
def test_a_script_parent_is_not_rerun_in_each_child(tmp_path: Path) -> None:
    """A console script (``preserver``) has no module spec: without care, every child
    would re-run it, importing the whole CLI again before it starts."""
    runs = tmp_path / "runs.txt"
    script = tmp_path / "console_script.py"
    script.write_text(textwrap.dedent(f"""
        import asyncio
        with open({str(runs)!r}, "a", encoding="ascii") as f:
            f.write("ran\\n")  # once per execution of this script
        from tests.workers.child_targets import answer
        from workers._procs import run_child
        if __name__ == "__main__":
            for _ in range(2):
                print(asyncio.run(run_child(answer, (b"ok",), name="t", timeout=60.0,
                                            limit=10, parse=bytes.decode)))
    """), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout) == (0, "ok\nok\n"), done.stderr
    assert runs.read_text(encoding="ascii") == "ran\n"


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.slow
def test_the_capture_server_can_start_before_any_job(tmp_path: Path) -> None:
    """``start_capture_server`` returns at once and the forkserver, with its yt-dlp
    preload, is started in the background: no job has to wait for it to load."""
    script = tmp_path / "early.py"
    script.write_text(textwrap.dedent("""
        import os, time
        from pathlib import Path
        from workers import start_capture_server
        start_capture_server()
        me = os.getpid()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit():
                    continue
                try:
                    stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                    cmdline = (proc / "cmdline").read_bytes().replace(b"\\0", b" ").decode()
                except OSError:
                    continue
                if int(stat[1]) == me and "forkserver" in cmdline:
                    print("server", "workers._forkserver_warm" in cmdline)
                    raise SystemExit(0)
            time.sleep(0.05)
        print("no server")
    """), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout) == (0, "server True\n"), done.stderr


@pytest.mark.slow
def test_a_broken_plugin_does_not_stop_the_capture_server(tmp_path: Path) -> None:
    """The server loads the plugins and compiles every extractor's pattern before it
    serves; a plugin extractor whose pattern does not compile must not kill it (its
    preload dies on any error but ImportError, and every capture with it)."""
    where = tmp_path / "plugins" / "yt_dlp_plugins" / "extractor"
    where.mkdir(parents=True)
    (where / "broken.py").write_text(
        "from yt_dlp.extractor.common import InfoExtractor\n\n\n"
        "class BrokenPatternIE(InfoExtractor):\n"
        "    _VALID_URL = r'https?://broken\\.invalid/(unclosed'\n", encoding="utf-8")
    script = tmp_path / "serve_one.py"
    script.write_text(textwrap.dedent("""
        import asyncio
        from tests.workers.child_targets import answer
        from workers._procs import run_child
        if __name__ == "__main__":
            print(asyncio.run(run_child(answer, (b"ok",), name="t", timeout=60.0,
                                        limit=10, parse=bytes.decode)))
    """), encoding="utf-8")
    env = {**os.environ, **plugin_env(tmp_path / "plugins")}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr
    assert "could not warm up" in done.stderr  # said, once, by the server
