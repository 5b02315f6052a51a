"""How the audit of a 10,000-link archive is spread over the days and the hours.

    .venv/bin/python bench/audit_spread.py [--targets 10000] [--days 28]

A simulation of `preserver serve` with the default configuration: N links ingested at
once on day 0 (so all due at once), the audit job every 15 minutes (``[serve] audit``)
checking the targets whose ``next_check_at`` has come, every link staying up. Each
next check comes from the real ``preserver.audit.schedule.next_check`` with the default
``[audit]`` intervals; only the probes and the database are left out. Printed: checks
per day, the busiest 15-minute run of each day, and what that run costs at the default
rate of 1 request per second when every link is on one platform (YouTube).
"""

from __future__ import annotations

import argparse
import heapq
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preserver.audit.schedule import next_check
from preserver.config import load_config
from preserver.db.models import Target
from workers import Status

TICK = timedelta(minutes=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=28)
    args = parser.parse_args()
    config = load_config(None, env={})
    start = datetime(2026, 1, 5, tzinfo=UTC)
    targets = [Target(key=f"youtube:{i:011d}", url="", platform="youtube", created_at=start,
                      next_check_at=start) for i in range(args.targets)]
    due = [(start, i) for i in range(args.targets)]
    per_day: Counter[int] = Counter()
    busiest: Counter[int] = Counter()
    per_hour_last: Counter[int] = Counter()
    now = start
    while now < start + timedelta(days=args.days):
        run = 0
        while due and due[0][0] <= now:
            _, i = heapq.heappop(due)
            target = targets[i]
            if target.status != "available":  # the first answer changes the state
                target.status, target.status_since = "available", now
            when = next_check(config, target, Status.AVAILABLE, now)
            heapq.heappush(due, (when, i))
            run += 1
        day = (now - start).days
        per_day[day] += run
        busiest[day] = max(busiest[day], run)
        if day == args.days - 1:
            per_hour_last[now.hour] += run
        now += TICK
    rate = float(config.audit.rate)
    print(f"{args.targets} links ingested on day 0, all staying up; the audit runs every "
          f"15 min with the default [audit] (recent {config.audit.recent / 86400:g} d, "
          f"interval_recent {config.audit.interval_recent / 86400:g} d, interval_stable "
          f"{config.audit.interval_stable / 86400:g} d, rate {rate:g}/s per group)")
    print(f"{'day':>4} {'checks':>7} {'busiest run':>12} {'that run, one platform':>24}")
    for day in range(args.days):
        seconds = busiest[day] / rate
        print(f"{day:>4} {per_day[day]:>7} {busiest[day]:>12} {seconds / 60:>20.1f} min")
    hours = [per_hour_last[h] for h in range(24)]
    mean = sum(hours) / 24
    print(f"day {args.days - 1}, per hour: mean {mean:.0f}, min {min(hours)}, max {max(hours)} "
          f"(max {max(hours) / mean - 1:+.0%} of the mean); one platform at {rate:g}/s is busy "
          f"{sum(hours) / rate / 864:.1f} % of the day")


if __name__ == "__main__":
    main()
