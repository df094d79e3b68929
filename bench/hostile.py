"""Hostile load against a real API server (uvicorn, PostgreSQL): does everyone else still get
answers?

    python -m bench hostile [--seconds 10] [--threads 16] [--rows 450000]

While 16 threads guess passwords, and then while an HR clerk uploads a 450,000-row XLSX,
a probe asks /healthz and a unit head's /violations every 100 ms. Prints the probe's
p50/p95/max latency in each phase, what the attackers got (401/429) and how the import was
answered. Figures on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import threading
import time
from contextlib import ExitStack

import httpx

from bench.seeding import bench_database

PASSWORD = "bench-password-1"


def _xlsx(rows: int) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["Mã cán bộ", "Loại", "Từ ngày"])
    for i in range(rows):  # one short cell a row: under the 5 MB limit, as in the report
        sheet.append([i])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _probe(base: str, token: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            for path, headers in (
                ("/healthz", {}),
                ("/api/violations", {"Authorization": f"Bearer {token}"}),
            ):
                started = time.perf_counter()
                client.get(path, headers=headers)
                out.append((time.perf_counter() - started) * 1000)
            time.sleep(0.1)


def _figures(name: str, samples: list[float]) -> None:
    if not samples:
        print(f"  {name}: no samples")
        return
    ordered = sorted(samples)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(
        f"  {name}: {len(samples)} probes, p50 {statistics.median(samples):.0f} ms, "
        f"p95 {p95:.0f} ms, max {ordered[-1]:.0f} ms"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench hostile")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rows", type=int, default=450_000)
    args = parser.parse_args(argv)
    logging.getLogger("services.signin").setLevel(logging.ERROR)

    from api.app import create_app
    from kycuong.settings import Settings
    from store.db import db_session, make_engine
    from store.models import Agency, Unit
    from store.users import create_user
    from tests.support import serving

    database = ExitStack()  # the benchmark's own database, dropped at the end
    url = database.enter_context(bench_database())
    try:
        engine = make_engine(url)
        with db_session(engine) as db:
            db.add(Agency(code="A", name="Sở A"))
            db.flush()
            db.add(Unit(agency_id=1, code="U1", name="Phòng Một"))
            db.flush()
            create_user(db, "head", PASSWORD, "unit_head", agency_code="A", unit_code="U1")
            create_user(db, "clerk", PASSWORD, "hr_clerk")
            for i in range(args.threads):
                create_user(db, f"victim{i}", PASSWORD, "admin")
        app = create_app(Settings(database_url=url), engine)
        with serving(app) as port:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base) as client:
                tokens = {
                    who: client.post(
                        "/api/auth/token", data={"username": who, "password": PASSWORD}
                    ).json()["access_token"]
                    for who in ("head", "clerk")
                }
            quiet: list[float] = []
            stop = threading.Event()
            probe = threading.Thread(target=_probe, args=(base, tokens["head"], stop, quiet))
            probe.start()
            time.sleep(min(3.0, args.seconds))
            stop.set()
            probe.join()
            print(f"hostile benchmark ({args.threads} guessing threads, {args.seconds:g} s):")
            _figures("quiet", quiet)

            answers: dict[int, int] = {}
            lock = threading.Lock()

            def guess(i: int, until: float) -> None:
                with httpx.Client(base_url=base, timeout=30) as client:
                    n = 0
                    while time.monotonic() < until:
                        n += 1
                        status = client.post(
                            "/api/auth/token", data={"username": f"victim{i}", "password": f"g{n}"}
                        ).status_code
                        with lock:
                            answers[status] = answers.get(status, 0) + 1

            flood: list[float] = []
            stop = threading.Event()
            probe = threading.Thread(target=_probe, args=(base, tokens["head"], stop, flood))
            probe.start()
            until = time.monotonic() + args.seconds
            guessers = [
                threading.Thread(target=guess, args=(i, until)) for i in range(args.threads)
            ]
            for thread in guessers:
                thread.start()
            for thread in guessers:
                thread.join()
            stop.set()
            probe.join()
            _figures("during the guessing flood", flood)
            print(f"  guesses answered: {dict(sorted(answers.items()))}")

            body = _xlsx(args.rows)
            imported: list[float] = []
            stop = threading.Event()
            probe = threading.Thread(target=_probe, args=(base, tokens["head"], stop, imported))
            probe.start()
            started = time.perf_counter()
            with httpx.Client(base_url=base, timeout=600) as client:
                answer = client.post(
                    "/api/excuses/import",
                    files={"file": ("nghi.xlsx", body)},
                    headers={"Authorization": f"Bearer {tokens['clerk']}"},
                )
            took = time.perf_counter() - started
            time.sleep(0.5)
            stop.set()
            probe.join()
            _figures(f"during a {args.rows:,}-row import ({len(body) / 1e6:.1f} MB)", imported)
            print(f"  import answered {answer.status_code} in {took:.2f} s: {answer.text[:120]}")
        engine.dispose()
    finally:
        database.close()
    return 0
