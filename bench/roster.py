"""How long a roster file takes to read, preview and apply (SQLite file, or a database URL).

    python -m bench roster [--people 5000] [--url sqlite:///...]

Writes the same people as a Windows-1258 CSV, a UTF-16 CSV and an XLSX with title rows, and
prints the seconds to read each, to preview the largest against an empty database, and to
apply it; then the preview of the same file once applied (every row unchanged).
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from datetime import date
from pathlib import Path


def main(argv: list[str]) -> int:
    from openpyxl import Workbook

    from services import roster
    from services.scope import Scope
    from store.db import db_session, make_engine, upgrade
    from tests.integration.test_roster import UNITS_CSV, cp1258

    parser = argparse.ArgumentParser(prog="python -m bench roster")
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args(argv)
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'roster.db'}"
    upgrade(url)
    engine = make_engine(url)
    admin = Scope(0, "bench", "admin", None)
    today = date(2026, 12, 1)
    header = ["Mã cán bộ", "Họ và tên", "Đơn vị", "Chức vụ", "Ngày bắt đầu", "Số thẻ"]
    rows = [
        [
            f"CB{i:05d}",
            f"Nguyễn Thị Hương {i}",
            "VP" if i % 2 else "TCBC",
            "Chuyên viên",
            "01/03/2024",
            f"{2000000 + i}",
        ]
        for i in range(args.people)
    ]
    text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["DANH SÁCH CÁN BỘ"])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    files = {
        "CSV Windows-1258": cp1258(text),
        "CSV UTF-16 (tab)": text.replace(",", "\t").encode("utf-16"),
        "XLSX with a title row": out.getvalue(),
    }
    with db_session(engine) as db:
        units = roster.read(UNITS_CSV.encode(), "u.csv", "units")
        roster.apply(db, admin, "units", units, today)
    print(f"{args.people} people ({url.split(':')[0]})")
    table = None
    for name, content in files.items():
        started = time.perf_counter()
        table = roster.read(content, name, "employees")
        elapsed = time.perf_counter() - started
        print(f"  read {name:<24} {len(content) / 1024:8.0f} KB  {elapsed:6.2f} s")
    assert table is not None
    for label in ("preview (all new)", "apply", "preview (all unchanged)"):
        started = time.perf_counter()
        with db_session(engine) as db:
            if label == "apply":
                roster.apply(db, admin, "employees", table, today)
            else:
                plan = roster.preview(db, admin, "employees", table, today)
        print(f"  {label:<29} {time.perf_counter() - started:16.2f} s  ({plan.summary()})")
    engine.dispose()
    return 0
