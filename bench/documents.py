"""Documents benchmark on PostgreSQL seeded with the API benchmark's province: the discipline
report and the bảng chấm công of every unit for a month, XLSX and PDF, timed.

    python -m bench documents [--employees 30000] [--history year|month] [--save DIR]
        [--against DIR]

The province is bench/api.py's (30 agencies, one unit per 30 people, late/absent/leave at the
same rates); ``--history month`` seeds only November 2026 (what these documents read), which
seeds in a fraction of the time. Figures are wall-clock on a shared machine, noisy: each
comes with the CPU seconds this process spent and the load average. ``--save`` keeps the
four files; ``--against`` compares the XLSX with those saved by an earlier run (another
branch): every part of the package but its timestamp (docProps/core.xml) must be the same.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
import zipfile
from datetime import UTC, date, datetime

from bench.api import HISTORY_SQL
from bench.seeding import bench_database, connect, run_sql, seed_organisation


def _load() -> str:
    """The 1-minute load average (the machine is shared: wall-clock figures are noisy)."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def _differences(content: bytes, folder: str, name: str) -> str:
    """The parts of two XLSX packages that differ, but for the time they were made."""
    with open(os.path.join(folder, name), "rb") as f:
        earlier = zipfile.ZipFile(io.BytesIO(f.read()))
    now = zipfile.ZipFile(io.BytesIO(content))
    if sorted(now.namelist()) != sorted(earlier.namelist()):
        return "the packages have different parts"
    differ = [
        n for n in now.namelist() if n != "docProps/core.xml" and now.read(n) != earlier.read(n)
    ]
    return f"{len(differ)} of {len(now.namelist())} parts differ {differ[:5]}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench documents")
    parser.add_argument("--employees", type=int, default=30_000)
    parser.add_argument("--history", choices=["year", "month"], default="month")
    parser.add_argument(
        "--profile", action="store_true", help="print where the XLSX report's time goes (cProfile)"
    )
    parser.add_argument("--save", metavar="DIR", help="write the four files into DIR")
    parser.add_argument(
        "--against", metavar="DIR", help="compare the XLSX with those an earlier --save wrote"
    )
    args = parser.parse_args(argv)

    from services.documents import timesheet
    from services.documents.files import report_data, report_file, timesheet_file
    from services.documents.header import DocumentHeader
    from services.documents.period import report_period
    from store.db import db_session, make_engine
    from store.rollups import rebuild
    from store.summaries import Thresholds
    from store.timesheets import month_marks

    since = "2026-11-02" if args.history == "month" else "2025-11-24"
    with bench_database() as url:
        started = time.perf_counter()
        with connect(url) as c:
            units = seed_organisation(c, agencies=30, employees=args.employees)
            run_sql(c, HISTORY_SQL, {"since": since, "until": "2026-11-20"})
        print(
            f"documents benchmark: {args.employees:,} employees in {units:,} units, "
            f"history {args.history} (seeded in {time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        engine = make_engine(url)
        started = time.perf_counter()
        with db_session(engine) as db:  # the seed wrote days directly: sum them as the runner does
            months = rebuild(db, date(2026, 11, 1), date(2026, 11, 30))
        print(f"person-months rebuilt: {months:,} in {time.perf_counter() - started:.0f} s")
        today = date(2026, 12, 1)
        period = report_period("month", 2026, 11, None, today)
        header = DocumentHeader(
            agency="Sở Nội vụ tỉnh",
            recipient="Ủy ban nhân dân tỉnh",
            period_label=period.label,
            generated=datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
        )
        symbols = timesheet.Symbols()
        started = time.perf_counter()
        with db_session(engine) as db:
            report_data(db, None, period, Thresholds())
        gathered = time.perf_counter() - started
        started = time.perf_counter()
        with db_session(engine) as db:
            month_marks(db, None, period.first, period.last)
        print(
            f"figures alone (SQL): discipline report {gathered:.1f} s, "
            f"timesheets' day records {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        for what, fmt in (
            ("discipline report", "xlsx"),
            ("discipline report", "pdf"),
            ("bảng chấm công", "xlsx"),
            ("bảng chấm công", "pdf"),
        ):
            started, cpu = time.perf_counter(), time.process_time()
            # CPU seconds, not wall-clock: the machine is shared (a profiler's own cost included)
            profiler = (
                cProfile.Profile(time.process_time) if args.profile and fmt == "xlsx" else None
            )
            if profiler is not None:
                profiler.enable()
            with db_session(engine) as db:
                if what == "discipline report":
                    out = report_file(db, None, period, Thresholds(), header, fmt)  # type: ignore[arg-type]
                else:
                    out = timesheet_file(db, None, 2026, 11, symbols, header, fmt)  # type: ignore[arg-type]
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            if profiler is not None:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            print(
                f"{what} {fmt.upper()}, whole province, November 2026: {elapsed:.1f} s "
                f"({cpu:.1f} s of this process's CPU), {len(out.content) / 1e6:.1f} MB; "
                f"load average {_load()}",
                flush=True,
            )
            name = f"{'report' if what == 'discipline report' else 'timesheet'}.{fmt}"
            if args.save:
                os.makedirs(args.save, exist_ok=True)
                with open(os.path.join(args.save, name), "wb") as f:
                    f.write(out.content)
            if args.against and fmt == "xlsx":
                print(f"  against {args.against}: {_differences(out.content, args.against, name)}")
        engine.dispose()
    return 0
