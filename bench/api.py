"""API benchmark on PostgreSQL seeded with a province: 30,000 employees, a year of history,
over a million violations.

    python -m bench api [--employees 30000] [--requests 300] [--years 1,3]

Prints the p50/p95 latency of a page of a unit head's violations (first pages and next
pages), and the time of a month's summary for the whole province (JSON and XLSX). The
requests go over loopback HTTP to ``kycuong api`` started in its own process, as served in
production: its peak RSS (VmHWM) is the server's alone, not the seeding's or the client's.
With ``--years 1,3`` the same figures are taken with one year stored, then again once older
history is added beneath it (three years), in one run.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import astuple
from datetime import date, timedelta

import httpx

from bench.seeding import bench_database, connect, run_sql, seed_organisation

# Working days from ``since`` to ``until``: a later call adds older years beneath.
HISTORY_SQL = """
CREATE TEMP TABLE days AS
  SELECT d::date AS day
  FROM generate_series(%(since)s::date, %(until)s::date, INTERVAL '1 day') d
  WHERE extract(isodow FROM d) < 6;
CREATE TEMP TABLE facts AS
  SELECT e.id AS employee_id, e.unit_id, d.day, random() AS r
  FROM employees e CROSS JOIN days d;
INSERT INTO day_records (employee_id, day, unit_id, status, worked_minutes, closed, computed_at,
                         excused_kind, excused_fraction)
  SELECT employee_id, day, unit_id,
         CASE WHEN r < 0.02 THEN 'absent' WHEN r < 0.12 THEN 'late'
              WHEN r < 0.15 THEN 'on_leave' ELSE 'present' END,
         480, true, now(),
         CASE WHEN r >= 0.12 AND r < 0.15 THEN 'annual_leave' END,
         CASE WHEN r >= 0.12 AND r < 0.15 THEN 1.0 ELSE 0.0 END
  FROM facts;
INSERT INTO violations (employee_id, unit_id, day, session, kind, minutes, evidence, provisional,
                        active, detected_at, updated_at)
  SELECT employee_id, unit_id, day, s.session,
         CASE WHEN r < 0.02 THEN 'absent' WHEN r < 0.12 THEN 'late' ELSE 'early_leave' END,
         CASE WHEN r < 0.02 THEN 240 ELSE 1 + (r * 1000)::int %% 60 END,
         '[]', false, true, now(), now()
  FROM facts CROSS JOIN (VALUES ('morning'), ('afternoon')) s(session)
  WHERE (r < 0.02) OR (r < 0.12 AND s.session = 'morning')
     OR (r > 0.97 AND s.session = 'afternoon');
SELECT setval(pg_get_serial_sequence('violations', 'id'), (SELECT max(id) FROM violations));
DROP TABLE days;
DROP TABLE facts;
ANALYZE;
"""

KEEPALIVE_UNDER_SERVERS = httpx.Limits(keepalive_expiry=4.0)


def _load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(url: str, port: int) -> subprocess.Popen[bytes]:
    """``kycuong api`` on ``port``, answering once /healthz or the sign-in page does."""
    env = os.environ | {
        "KC_DATABASE_URL": url,
        "KC_API_SECRET": "bench-secret-of-thirty-two-bytes!!",
        "KC_API_HOST": "127.0.0.1",
        "KC_API_PORT": str(port),
        "KC_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen([sys.executable, "-m", "kycuong.cli", "api"], env=env)
    for _ in range(600):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return server
        except httpx.TransportError:
            if server.poll() is not None:
                raise RuntimeError("kycuong api stopped at start-up") from None
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("kycuong api did not answer in 60 s")


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench api")
    parser.add_argument("--employees", type=int, default=30_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--years", default="1", help="years of history, e.g. 1,3: measured at each, in one run"
    )
    parser.add_argument(
        "--days-pass", action="store_true", help="also time a year to 17/11 read from every day"
    )
    args = parser.parse_args(argv)
    with bench_database() as url:
        return _measure(url, args)


def _measure(url: str, args: argparse.Namespace) -> int:
    from store.db import db_session, make_engine
    from store.rollups import rebuild
    from store.summaries import Thresholds, person_lines, person_lines_from_days
    from store.users import create_user

    plan = sorted({int(y) for y in args.years.split(",")})
    server: subprocess.Popen[bytes] | None = None
    try:
        with connect(url) as conn:
            units = seed_organisation(conn, agencies=30, employees=args.employees)
        engine = make_engine(url)
        rng = random.Random(7)
        heads = rng.sample(range(1, units + 1), min(30, units))
        with db_session(engine) as db:
            for unit in heads:
                create_user(
                    db,
                    f"head{unit}",
                    "bench-password",
                    "unit_head",
                    agency_code=f"S{1 + (unit - 1) % 30}",
                    unit_code=f"U{unit}",
                )
            create_user(db, "noivu", "bench-password", "noi_vu")
        port = _free_port()
        server = _serve(url, port)
        # uvicorn closes a connection idle for 5 s (timeout_keep_alive): the client lets its
        # own go at 4 s, or a request on one the server is closing meets a reset.
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=300, limits=KEEPALIVE_UNDER_SERVERS
        )

        def sign_in(username: str) -> dict[str, str]:
            token = client.post(
                "/api/auth/token", data={"username": username, "password": "bench-password"}
            ).json()["access_token"]
            return {"Authorization": f"Bearer {token}"}

        def measure(years: int) -> None:
            tokens = {unit: sign_in(f"head{unit}") for unit in heads}
            first_pages: list[float] = []
            next_pages: list[float] = []
            for i in range(args.requests):
                headers = tokens[heads[i % len(heads)]]
                t = time.perf_counter()
                page = client.get("/api/violations", headers=headers, params={"limit": 50})
                first_pages.append(time.perf_counter() - t)
                assert page.status_code == 200 and len(page.json()["items"]) == 50
                cursor = page.json()["next_cursor"]
                t = time.perf_counter()
                client.get(
                    "/api/violations",
                    headers=headers,
                    params={"limit": 50, "cursor": cursor, "kind": "late"},
                )
                next_pages.append(time.perf_counter() - t)
            print(
                "  unit head, a page of 50 violations: "
                f"p50 {statistics.median(first_pages) * 1000:.1f} ms, "
                f"p95 {percentile(first_pages, 0.95) * 1000:.1f} ms; next page with a filter: "
                f"p95 {percentile(next_pages, 0.95) * 1000:.1f} ms ({args.requests} each)",
                flush=True,
            )

            # The pages, as a browser signs in (session cookie), on the same province.
            def browser_for(username: str) -> httpx.Client:
                browser = httpx.Client(
                    base_url=client.base_url, timeout=300, limits=KEEPALIVE_UNDER_SERVERS
                )
                form = browser.get("/").text
                csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
                answer = browser.post(
                    "/dang-nhap",
                    data={"username": username, "password": "bench-password", "csrf": csrf},
                    follow_redirects=False,
                )
                assert answer.status_code == 303, answer.text
                return browser

            browsers = {unit: browser_for(f"head{unit}") for unit in heads}
            queue_pages: list[float] = []
            grid_pages: list[float] = []
            for i in range(args.requests):
                browser = browsers[heads[i % len(heads)]]
                t = time.perf_counter()
                assert browser.get("/vi-pham").status_code == 200
                queue_pages.append(time.perf_counter() - t)
                t = time.perf_counter()
                assert (
                    browser.get("/bang-thang", params={"thang": 10, "nam": 2026}).status_code == 200
                )
                grid_pages.append(time.perf_counter() - t)
            noivu_browser = browser_for("noivu")
            summary_pages: list[float] = []
            for _ in range(3):
                t = time.perf_counter()
                answer = noivu_browser.get(
                    "/bao-cao", params={"ky": "month", "nam": 2026, "thang": 10}
                )
                summary_pages.append(time.perf_counter() - t)
                assert answer.status_code == 200
            print(
                "  pages: unit head's queue "
                f"p50 {statistics.median(queue_pages) * 1000:.1f} ms, "
                f"p95 {percentile(queue_pages, 0.95) * 1000:.1f} ms; month grid "
                f"p50 {statistics.median(grid_pages) * 1000:.1f} ms, "
                f"p95 {percentile(grid_pages, 0.95) * 1000:.1f} ms ({args.requests} each); "
                f"Nội vụ's month summary page for the province: "
                f"median {statistics.median(summary_pages):.2f} s (3 loads)",
                flush=True,
            )
            print(
                f'RESULT {{"queue_page_p95_ms": {percentile(queue_pages, 0.95) * 1000:.1f}, '
                f'"grid_page_p95_ms": {percentile(grid_pages, 0.95) * 1000:.1f}, '
                f'"summary_page_s": {statistics.median(summary_pages):.2f}}}'
            )
            province = sign_in("noivu")
            timings = {}
            for fmt in ("json", "xlsx"):
                t = time.perf_counter()
                answer = client.get(
                    "/api/summaries",
                    headers=province,
                    params={"period": "month", "year": 2026, "month": 10, "format": fmt},
                )
                timings[fmt] = time.perf_counter() - t
                assert answer.status_code == 200
            body = client.get(
                "/api/summaries",
                headers=province,
                params={"period": "month", "year": 2026, "month": 10},
            ).json()
            print(
                f"  month summary, whole province ({body['total']['staff']:,} people, "
                f"{len(body['units']):,} units): "
                f"JSON {timings['json']:.2f} s, XLSX {timings['xlsx']:.2f} s",
                flush=True,
            )
            print(
                f'RESULT {{"page_p95_ms": {percentile(first_pages, 0.95) * 1000:.1f}, '
                f'"summary_month_s": {timings["json"]:.2f}, '
                f'"summary_month_xlsx_s": {timings["xlsx"]:.2f}}}'
            )
            summaries = "/api/summaries"
            for period, extra in (("month", {"month": 10}), ("year", {})):
                t = time.perf_counter()
                answer = client.get(
                    summaries, headers=province, params={"period": period, "year": 2026, **extra}
                )
                timings[period] = time.perf_counter() - t
                assert answer.status_code == 200, answer.text[:500]
            print(
                f"  from person-months, {years} year(s) stored: month summary "
                f"{timings['month']:.2f} s, year summary {timings['year']:.2f} s (JSON)",
                flush=True,
            )
            print(
                f'RESULT {{"years": {years}, "summary_month_s": {timings["month"]:.2f}, '
                f'"summary_year_s": {timings["year"]:.2f}}}'
            )
            # A year pulled on 18/11 (to 17/11): ten whole months and 17 days, in this process.
            first, last = date(2026, 1, 1), date(2026, 11, 17)
            t = time.perf_counter()
            with db_session(engine) as db:
                composed = person_lines(db, first, last, None, Thresholds())
            timings["partial"] = time.perf_counter() - t
            line = (
                f"  year to 17/11 (not whole months), {len(composed):,} people: composed from "
                f"person-months and the days of November {timings['partial']:.2f} s"
            )
            if args.days_pass:
                t = time.perf_counter()
                with db_session(engine) as db:
                    from_days = person_lines_from_days(db, first, last, None, Thresholds())
                timings["days"] = time.perf_counter() - t
                same = [astuple(x) for x in composed] == [astuple(x) for x in from_days]
                line += (
                    f"; every day record {timings['days']:.2f} s "
                    f"(ratio {timings['days'] / timings['partial']:.0f}, same lines: {same})"
                )
            print(line, flush=True)
            partial = timings["partial"]
            print(f'RESULT {{"years": {years}, "summary_year_partial_s": {partial:.2f}}}')

        seeded_since = date(2026, 11, 21)
        for years in plan:
            since = date(2026 - years, 11, 24)
            started = time.perf_counter()
            with connect(url) as conn:
                run_sql(
                    conn, HISTORY_SQL, {"since": since, "until": seeded_since - timedelta(days=1)}
                )
                counts = conn.execute(
                    "SELECT (SELECT count(*) FROM violations), (SELECT count(*) FROM day_records)"
                ).fetchone()
            assert counts is not None
            print(
                f"api benchmark: {args.employees:,} employees in {units:,} units of 30 agencies, "
                f"{counts[1]:,} day records and {counts[0]:,} violations over {years} year(s) "
                f"(seeded in {time.perf_counter() - started:.0f} s); "
                f"load average {_load()}",
                flush=True,
            )
            started = time.perf_counter()
            with db_session(engine) as db:  # the seed wrote days: sum them as the runner does
                months = rebuild(db, since, seeded_since - timedelta(days=1))
            seeded_since = since
            print(
                f"  person-months rebuilt: {months:,} in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            measure(years)
        print(
            f"  peak RSS of the process serving the API (kycuong api, VmHWM): "
            f"{_peak_rss_mb(server.pid):.0f} MB; load average {_load()}",
            flush=True,
        )
        print(f'RESULT {{"api_peak_rss_mb": {_peak_rss_mb(server.pid):.0f}}}')
        engine.dispose()
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
    return 0
