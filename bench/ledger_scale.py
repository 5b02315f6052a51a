"""The custody ledger at scale: a checkpoint's root and the target page's inclusion proof
from the stored subtree hashes (``ledger_nodes``), side by side with the old way (every
event body read and hashed: ``manifests.root_hash`` / ``manifests.inclusion_proof``).

    .venv/bin/python bench/ledger_scale.py [--sizes 100000,1000000] [--database-url URL]

For each size N it builds a ledger through the real schema (``Database.open`` migrates
it): N event rows of about 500 bytes of canonical JSON each, inserted set-based, then
sequenced by the real ``custody.ledger.sequence_events`` (which writes the nodes), and one
checkpoint row. Each measurement then runs in a process of its own, which reports its
seconds and its peak resident memory (``VmHWM``): ``idle`` (imports and an open
database, the floor), ``root`` (``make_checkpoint``'s root: ``custody.nodes.root`` vs
``root_hash`` over every body), ``proof`` (``views.custody.ledger_entries`` for the middle
event, through the read path, vs the old code: every body up to the checkpoint,
``inclusion_proof``, ``verify_inclusion``). It also prints the table's size and the time
and peak memory of migration 0011 backfilling the same ledger (taken back to 0010). SQLite by default; ``--database-url`` (a
PostgreSQL server's URL) runs on a fresh database made there and dropped after. Absolute
figures depend on this shared machine; read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_CHUNK = 10_000


def _body(i: int) -> bytes:
    pad = "x" * 300
    return (f'{{"action":"capture_stored","actor":{{"host":"bench","operator":"op",'
            f'"software":"preserver bench"}},"details":{{"capture_id":"{i:032x}",'
            f'"note":"{pad}"}},"salt":"{i:032x}","subject":"youtube:{i:011d}",'
            f'"time":"2026-11-27T06:00:00.000000Z"}}').encode()


async def build(url: str, n: int) -> dict[str, float]:
    import sqlalchemy as sa

    from preserver.custody.ledger import sequence_events, session_fetch
    from preserver.custody.nodes import root
    from preserver.db.engine import Database
    from preserver.db.models import CheckpointRow, Event, utc_now

    db = await Database.open(url)
    try:
        began = time.perf_counter()
        now = utc_now()
        for lo in range(0, n, _CHUNK):
            async with db.session() as s:
                await s.execute(sa.insert(Event), [
                    {"time": now, "action": "capture_stored", "subject": f"youtube:{i:011d}",
                     "body": _body(i)} for i in range(lo, min(n, lo + _CHUNK))])
        inserted = time.perf_counter()
        async with db.session() as s:
            size = await sequence_events(s)
        sequenced = time.perf_counter()
        async with db.session() as s:
            head = await root(session_fetch(s), size)
            s.add(CheckpointRow(size=size, root=head.hex(), text=b"bench", created_at=now))
            nodes = await s.scalar(sa.text("SELECT count(*) FROM ledger_nodes"))
    finally:
        await db.close()
    return {"insert_s": inserted - began, "sequence_s": sequenced - inserted,
            "nodes": float(nodes or 0)}


async def measure(url: str, mode: str, way: str) -> dict[str, Any]:
    out: Any = None
    if mode == "migrate":  # the database was taken back to 0010: migration 0011's backfill
        from preserver.db.engine import make_engine, migrate

        engine = make_engine(url)
        began = time.perf_counter()
        try:
            out = (await migrate(engine)).after
        finally:
            await engine.dispose()
        seconds = time.perf_counter() - began
    elif mode == "root":  # as make_checkpoint: in an SQLAlchemy session
        from manifests import root_hash
        from preserver.custody.ledger import leaf_hashes, session_fetch
        from preserver.custody.nodes import root
        from preserver.db.engine import Database

        db = await Database.open(url, read_only=True)
        try:
            async with db.session() as s:
                size = int(await s.scalar(sa_text("SELECT max(size) FROM checkpoints")) or 0)
                began = time.perf_counter()
                if way == "nodes":
                    out = (await root(session_fetch(s), size)).hex()
                else:
                    out = root_hash(await leaf_hashes(s, size)).hex()
                seconds = time.perf_counter() - began
        finally:
            await db.close()
    else:  # as the target page: through the read path, without SQLAlchemy
        from preserver.db.reading import open_reader
        from preserver.views.custody import ledger_entries

        async with open_reader(url) as reader:
            size = int((await reader.rows("SELECT max(size) AS s FROM checkpoints"))[0]["s"])
            middle = (await reader.rows("SELECT id, seq FROM events WHERE seq = :s",
                                        {"s": size // 2}))[0]
            began = time.perf_counter()
            if mode == "idle":
                out = size
            elif way == "nodes":
                entry = (await ledger_entries(reader, [middle["id"]]))[middle["id"]]
                out = [entry["proof"]["verified"], *entry["proof"]["hashes"]]
            else:
                out = await _old_proof(reader, int(middle["seq"]), size)
            seconds = time.perf_counter() - began
    return {"seconds": seconds, "vmhwm_mib": _hwm_kib() / 1024, "result": out}


def _hwm_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM"))


def await_size(url: str) -> int:
    """Bytes the ledger_nodes table (and its primary key) take."""
    sql = ("SELECT pg_total_relation_size('ledger_nodes')" if url.startswith("postgresql")
           else "SELECT sum(pgsize) FROM dbstat WHERE name IN "
                "('ledger_nodes', 'sqlite_autoindex_ledger_nodes_1')")

    async def run() -> int:
        from preserver.db.engine import Database

        db = await Database.open(url, read_only=True)
        try:
            async with db.session() as s:
                return int(await s.scalar(sa_text(sql)) or 0)
        finally:
            await db.close()

    return asyncio.run(run())


async def _downgrade(url: str) -> None:
    from preserver.db.engine import make_engine
    from tests.support.schema import downgrade

    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(downgrade, "0010")
    finally:
        await engine.dispose()


def sa_text(sql: str) -> Any:
    import sqlalchemy as sa

    return sa.text(sql)


async def _old_proof(reader: Any, seq: int, size: int) -> list[Any]:
    """What ``ledger_entries`` did before the nodes: every body up to the checkpoint."""
    from manifests import inclusion_proof, leaf_hash, root_hash, verify_inclusion

    leaves = [leaf_hash(bytes(r["body"])) for r in await reader.rows(
        "SELECT body FROM events WHERE seq IS NOT NULL AND seq < :size ORDER BY seq",
        {"size": size})]
    hashes = inclusion_proof(leaves, seq)
    verify_inclusion(leaf=leaves[seq], index=seq, size=size, proof=hashes,
                     root=root_hash(leaves))
    return [True, *(h.hex() for h in hashes)]


def child(url: str, mode: str, way: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-P", __file__, "--child", url, mode, way],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode}/{way} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def bench(url: str, n: int) -> None:
    built = asyncio.run(build(url, n))
    print(f"\n{n:,} events: inserted in {built['insert_s']:.1f} s; sequence_events (leaf "
          f"indexes and {int(built['nodes']):,} node rows) {built['sequence_s']:.1f} s; "
          f"this process's VmHWM since: {_hwm_kib() / 1024:.0f} MiB")
    print(f"  ledger_nodes takes {await_size(url) / 2**20:.0f} MiB (table and key)")
    asyncio.run(_downgrade(url))
    again = child(url, "migrate", "nodes")
    print(f"  migration 0011 (the backfill of an archive at 0010): {again['seconds']:.1f} s, "
          f"VmHWM {again['vmhwm_mib']:.0f} MiB")
    idle = child(url, "idle", "nodes")
    print(f"  floor (read path's imports, an open database): {idle['vmhwm_mib']:.0f} MiB; "
          "the root's process also loads SQLAlchemy (about 50 MiB more)")
    print(f"  {'':34} {'nodes':>10} {'all bodies':>12} {'ratio':>8}")
    for mode, label in (("root", "make_checkpoint's root"),
                        ("proof", "ledger_entries, one event")):
        new, old = child(url, mode, "nodes"), child(url, mode, "old")
        if new["result"] != old["result"]:
            raise SystemExit(f"{mode}: the nodes and the bodies disagree")
        print(f"  {label + ', seconds':34} {new['seconds']:>10.4f} {old['seconds']:>12.3f} "
              f"{old['seconds'] / new['seconds']:>7.0f}x")
        print(f"  {label + ', VmHWM MiB':34} {new['vmhwm_mib']:>10.0f} {old['vmhwm_mib']:>12.0f} "
              f"{old['vmhwm_mib'] / new['vmhwm_mib']:>7.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(*args.child))))
        return
    from tests.support.postgres import scratch_database

    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            url = (stack.enter_context(scratch_database(args.database_url, f"bench_ledger_{n}"))
                   if args.database_url else f"sqlite+aiosqlite:///{Path(tmp) / 'ledger.db'}")
            bench(url, n)


if __name__ == "__main__":
    main()
