"""National-scale summaries on this box: person-months of 300,000 people over a year.

    python -m bench national [--employees 300000] [--provinces 10] [--months 12]

Seeds, set-based in SQL (not through the runner), the organisation (provinces as agencies,
units of 30 people) and one person-month per person and month: what every summary of whole
months reads (``store.summaries.person_lines_from_months``). Day records, violations and
punches beneath them are not seeded: at this size they would take hours and tens of GB on
this machine, and a summary of whole months does not read them. Then, through the real
FastAPI application in process: the month summary of one province (Nội vụ of that agency)
and of everyone (Nội vụ without an agency), the year summary of one province, and the
peak RSS of the process. Prints the figures and their linear extrapolation to 2 million.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

from bench.seeding import bench_database, connect, run_sql, seed_organisation

# After the organisation (bench.seeding), in the same session: its random() follows setseed.
PERSON_MONTHS_SQL = """
INSERT INTO person_months (employee_id, month, unit_id, working_days, present_days,
  late_count, late_minutes, early_count, early_minutes, absent_days, missing_punches,
  excused_leave, excused_sick, excused_trip, excused_study, excused_other,
  confirmed, excused, dismissed,
  absent_status_days, absent_run_head, absent_run_tail, absent_run_max)
  SELECT e.id, m.month, e.unit_id, 21, 21 - a - l, late, late * 12, early, early * 9, a, miss,
         l, 0, 0, 0, 0, 0, 0, 0, a, 0, 0, a
  FROM employees e
  CROSS JOIN (SELECT (DATE '2025-12-01' + make_interval(months => g))::date AS month
              FROM generate_series(0, %(months)s - 1) g) m
  CROSS JOIN LATERAL (SELECT (random() < 0.05)::int AS a, (random() < 0.1)::int * 2 AS l,
                             (random() * 4)::int AS late, (random() * 1.3)::int AS early,
                             (random() * 1.2)::int AS miss, e.id AS k) r;
ANALYZE;
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench national")
    parser.add_argument("--employees", type=int, default=300_000)
    parser.add_argument("--provinces", type=int, default=10)
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args(argv)

    from fastapi.testclient import TestClient

    from api.app import create_app
    from kycuong.settings import Settings
    from store.db import db_session, make_engine
    from store.users import create_user

    with open("/proc/loadavg") as f:
        load_before = " ".join(f.read().split()[:3])
    with bench_database() as url:
        started = time.perf_counter()
        with connect(url) as conn:
            units = seed_organisation(
                conn,
                agencies=args.provinces,
                employees=args.employees,
                seed=0.15,
                agency_code="T",
                agency_name="Tỉnh số ",
                code_width=7,
            )
            run_sql(conn, PERSON_MONTHS_SQL, {"months": args.months})
            rows, size = conn.execute(
                "SELECT count(*), pg_total_relation_size('person_months') FROM person_months"
            ).fetchone() or (0, 0)
        per_province = args.employees // args.provinces
        print(
            f"national benchmark: {args.employees:,} people in {units:,} units of "
            f"{args.provinces} provinces (≈ {per_province:,} each); {rows:,} person-months "
            f"({size / 2**20:,.0f} MB with indexes) seeded in SQL in "
            f"{time.perf_counter() - started:.0f} s; load average {load_before}",
            flush=True,
        )
        engine = make_engine(url)
        with db_session(engine) as db:
            create_user(db, "noivu", "bench-password", "noi_vu")
            create_user(db, "noivu1", "bench-password", "noi_vu", agency_code="T1")
        client = TestClient(
            create_app(
                Settings(database_url=url, api_secret="bench-secret-of-thirty-two-bytes!!"), engine
            )
        )

        def sign_in(username: str) -> dict[str, str]:
            token = client.post(
                "/api/auth/token", data={"username": username, "password": "bench-password"}
            ).json()["access_token"]
            return {"Authorization": f"Bearer {token}"}

        def timed(headers: dict[str, str], runs: int, **query: object) -> tuple[float, int]:
            times, staff = [], 0
            for _ in range(runs):
                t = time.perf_counter()
                answer = client.get("/api/summaries", headers=headers, params=query)
                times.append(time.perf_counter() - t)
                assert answer.status_code == 200, answer.text[:300]
                staff = answer.json()["total"]["staff"]
            return statistics.median(times), staff

        last = (2025, 12 + args.months - 1)
        year, month = last[0] + (last[1] - 1) // 12, (last[1] - 1) % 12 + 1
        province, everyone = sign_in("noivu1"), sign_in("noivu")
        rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        figures: dict[str, object] = {"employees": args.employees, "provinces": args.provinces}
        p_month, p_staff = timed(province, 3, period="month", year=year, month=month)
        p_year, _ = timed(province, 3, period="year", year=2026)
        print(
            f"  one province ({p_staff:,} people): month summary {p_month:.2f} s, "
            f"year summary {p_year:.2f} s (JSON, median of 3)",
            flush=True,
        )
        rss_province = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        a_month, a_staff = timed(everyone, 1, period="month", year=year, month=month)
        print(
            f"  everyone ({a_staff:,} people): month summary {a_month:.2f} s (JSON, one run)",
            flush=True,
        )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        scale = 2_000_000 / args.employees
        print(
            f"  peak RSS of the process serving the API: {rss_start:.0f} MB before the "
            f"summaries, {rss_province:.0f} MB after the province's, {rss:.0f} MB after "
            "everyone's month",
            flush=True,
        )
        print(
            f"  linear extrapolation to 2,000,000 people: everyone's month ≈ "
            f"{a_month * scale:.0f} s and ≈ {(rss - rss_start) * scale / 1024:.1f} GB more "
            "memory for one answer "
            f"(so the country is run per province, {p_month:.2f} s each here, and merged)",
            flush=True,
        )
        with open("/proc/loadavg") as f:
            load_after = " ".join(f.read().split()[:3])
        print(f"  load average after: {load_after}", flush=True)
        figures |= {
            "province_month_s": round(p_month, 2),
            "province_year_s": round(p_year, 2),
            "everyone_month_s": round(a_month, 2),
            "rss_province_mb": round(rss_province),
            "rss_mb": round(rss),
            "rss_start_mb": round(rss_start),
            "load_before": load_before,
            "load_after": load_after,
        }
        print("RESULT " + json.dumps(figures), flush=True)
        engine.dispose()
    return 0
