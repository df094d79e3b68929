"""Rules benchmark: the pure core over a month for 100,000 employees (~2.2 million employee-days).

    python -m bench rules [--employees 100000] [--month 2026-11]

Punch lists are drawn from a pool of realistic days (on time, late, absent, lunch punches,
double taps, missing punches) built before the clock starts; every employee-day is
evaluated for real. Prints employee-days per second on one core.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import date, datetime, timedelta

from rules.calendar import office_hours, plan_day, vietnam_calendar
from rules.evaluate import Excuse, PunchFact, evaluate_day
from rules.policy import Policy
from rules.zones import zone


def realistic_day(rng: random.Random, day: date, start_id: int) -> list[PunchFact]:
    tz = zone()
    base = int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())

    def t(hh: float) -> int:
        return base + int(hh * 3600)

    roll = rng.random()
    if roll < 0.03:
        return []
    arrive = (
        t(7.5) + int(rng.gauss(-8 * 60, 5 * 60)) if roll > 0.13 else t(7.5) + rng.randint(360, 3600)
    )
    times = [arrive]
    if rng.random() < 0.05:
        times.append(arrive + rng.randint(3, 60))  # double tap
    if rng.random() < 0.9:
        times += [t(11.5) + rng.randint(0, 900), t(12.9) + rng.randint(0, 600)]
    if rng.random() < 0.97:
        times.append(t(17) + rng.randint(-1800 if rng.random() < 0.05 else 0, 1200))
    return [PunchFact(start_id + i, x) for i, x in enumerate(times)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench rules")
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--month", default="2026-11")
    parser.add_argument("--pool", type=int, default=20_000)
    args = parser.parse_args(argv)
    year, month = (int(p) for p in args.month.split("-"))
    first = date(year, month, 1)
    days = [
        first + timedelta(days=i) for i in range(31) if (first + timedelta(days=i)).month == month
    ]
    tz = zone()
    schedule, calendar, policy = office_hours(), vietnam_calendar([year]), Policy()
    plans = [plan_day(schedule, calendar, d, tz, policy.margins) for d in days]
    working = [p for p in plans if p.sessions]
    rng = random.Random(42)
    pools = {
        p.day: [realistic_day(rng, p.day, i * 10) for i in range(args.pool // len(working) + 1)]
        for p in working
    }
    leave = [Excuse(1, "annual_leave", days[0], days[0] + timedelta(days=2))]
    now = datetime.combine(days[-1] + timedelta(days=2), datetime.min.time(), tzinfo=tz)
    # Working days only: weekends and holidays cost next to nothing and would flatter the rate.
    employee_days = args.employees * len(working)
    print(
        f"rules benchmark: {args.employees:,} employees x {len(working)} working days of "
        f"{args.month} = {employee_days:,} employee-days, one core",
        flush=True,
    )
    violations = 0
    started = time.perf_counter()
    for e in range(args.employees):
        excuses = leave if e % 50 == 0 else []
        for plan in working:
            pool = pools[plan.day]
            punches = pool[(e * 7919) % len(pool)]
            violations += len(evaluate_day(plan, policy, punches, excuses, now).violations)
    elapsed = time.perf_counter() - started
    rate = employee_days / elapsed
    print(
        f"  evaluated in {elapsed:.1f} s: {rate:,.0f} employee-days/s ({violations:,} violations)"
    )
    print(f'RESULT {{"employee_days_per_s": {rate:.0f}, "employee_days": {employee_days}}}')
    return 0
