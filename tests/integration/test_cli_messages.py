"""The command line as people use it (embedded SQLite): a recompute shows its effect and asks
before a large change; dates as dd/mm/yyyy; choices by their Vietnamese label; every error a
Vietnamese sentence, never a traceback; dates in messages are local."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from kycuong.cli import main
from kycuong.settings import get_settings
from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from store.db import db_session
from store.demo import seed_demo
from store.models import Employee, ExcuseRecord, RecomputeRequest, ViolationRecord
from store.roster import RosterError, assign_card
from tests.support import ROOT
from tests.unit.days import local


@pytest.fixture
def demo(
    sqlite_url: str, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.setenv("KC_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    with db_session(sqlite_engine) as db:
        seed_demo(db, employees=6)
    yield sqlite_engine
    get_settings.cache_clear()


def active_violations(engine: Engine) -> int:
    with db_session(engine) as db:
        query = select(func.count()).select_from(ViolationRecord)
        return int(db.scalar(query.where(ViolationRecord.active.is_(True))) or 0)


def test_a_large_recompute_shows_its_effect_and_waits_for_yes(
    demo: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    week = ["recompute", "--from", "23/11/2026", "--to", "27/11/2026"]
    assert main([*week, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Tính lại từ 23/11/2026 đến 27/11/2026: 30 lượt người-ngày." in out
    assert "Sẽ xuất hiện 48 vi phạm và thu hồi 0 vi phạm của 6 cán bộ" in out
    assert "từ ngày 23/11/2026 đến ngày 27/11/2026" in out
    assert "Vắng mặt không lý do: +" in out
    assert active_violations(demo) == 0

    assert main(week) == 1  # no terminal to ask, no --yes: nothing done
    captured = capsys.readouterr()
    assert "cần xác nhận: chạy lại với --yes" in captured.err
    assert active_violations(demo) == 0
    with db_session(demo) as db:
        assert db.scalar(select(func.count()).select_from(RecomputeRequest)) == 0

    assert main([*week, "--yes"]) == 0
    assert active_violations(demo) == 48  # what the preview said
    assert main([*week, "--dry-run"]) == 0
    assert "Không có vi phạm nào xuất hiện hay bị thu hồi" in capsys.readouterr().out


def test_a_policy_file_is_previewed_and_needs_yes(
    demo: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recompute", "--from", "23/11/2026", "--to", "27/11/2026", "--yes"]) == 0
    capsys.readouterr()
    day_off = tmp_path / "nghi.toml"
    day_off.write_text(
        '[calendar]\ndays_off = [{ date = 2026-11-25, name = "Nghỉ đột xuất" }]\n',
        encoding="utf-8",
    )
    load = ["policy", "load", str(day_off), "--agency", "SNV", "--since", "23/11/2026"]
    assert main(load) == 1
    out = capsys.readouterr()
    assert "Quy định mới cho SNV, áp dụng từ ngày 23/11/2026:" in out.out
    assert "thu hồi 12 vi phạm" in out.out and "--yes" in out.err
    assert active_violations(demo) == 48  # refused: nothing saved, nothing queued
    assert main([*load, "--yes"]) == 0
    assert "Đã lưu quy định cho SNV" in capsys.readouterr().out
    RecomputeWorker(demo, RulesDirectory(max_age_s=0)).drain()
    with db_session(demo) as db:
        on_the_day_off = db.scalar(
            select(func.count())
            .select_from(ViolationRecord)
            .where(ViolationRecord.day == date(2026, 11, 25), ViolationRecord.active.is_(True))
        )
    assert on_the_day_off == 0


def test_dates_and_labels_are_accepted_as_people_type_them(
    demo: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["excuses", "add", "--employee", "NV00001", "--kind", "Nghỉ phép năm"]
    assert main([*args, "--from", "26/11/2026", "--to", "2026-11-27"]) == 0
    assert "Nghỉ phép năm 26/11/2026–27/11/2026: Chờ duyệt" in capsys.readouterr().out
    assert main([*args[:-1], "nghi om", "--from", "30/11/2026"]) == 0
    with db_session(demo) as db:
        kinds = list(db.scalars(select(ExcuseRecord.kind).order_by(ExcuseRecord.id)))
    assert kinds == ["annual_leave", "sick_leave"]

    assert main([*args[:-1], "Đi chơi", "--from", "30/11/2026"]) == 2
    err = capsys.readouterr().err
    assert "Lỗi: Loại lý do (--kind): “Đi chơi” không hợp lệ; chọn một trong:" in err
    assert "annual_leave (Nghỉ phép năm)" in err and "business_trip (Đi công tác)" in err

    create = ["users", "create", "tp.vp", "--role", "Trưởng đơn vị", "--unit", "VP"]
    assert main([*create, "--agency", "SNV", "--password", "đủ-dài-rồi"]) == 0
    assert "Đã tạo tp.vp (Trưởng đơn vị, phạm vi: Văn phòng Sở" in capsys.readouterr().out


def test_refusals_are_vietnamese_sentences(
    demo: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["recompute", "--from", "31/02/2026", "--to", "01/03/2026"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Lỗi: --from: “31/02/2026” không phải ngày hợp lệ (nhập dạng dd/mm/yyyy" in err
    assert "Xem hướng dẫn: kycuong recompute --help" in err

    with pytest.raises(SystemExit):
        main(["recompute", "--from", "01/03/2026"])
    assert "Lỗi: thiếu tham số bắt buộc: --to" in capsys.readouterr().err

    assert main(["users", "create", "x.y", "--role", "boss", "--password", "12345678"]) == 2
    assert "Vai trò không hợp lệ: “boss”. Chọn một trong: Trưởng đơn vị (unit_head); Nội vụ" in (
        capsys.readouterr().err
    )

    assert main(["recompute", "--from", "02/03/2026", "--to", "01/03/2026"]) == 2
    assert "Lỗi: --to (đến ngày) phải sau hoặc bằng --from" in capsys.readouterr().err

    with pytest.raises(SystemExit):  # the positional date is named in Vietnamese too
        main(["agencies", "set-start", "SNV", "32/12/2026"])
    assert "Lỗi: ngày: “32/12/2026” không phải ngày hợp lệ" in capsys.readouterr().err

    assert main(["agencies", "set-start", "KHONGCO", "01/12/2026"]) == 2
    assert "Lỗi: Không tìm thấy cơ quan KHONGCO; các mã cơ quan: SNV" in capsys.readouterr().err

    assert main(["policy", "load", "/khong/co/tep.toml", "--agency", "SNV"]) == 2
    assert "Lỗi: /khong/co/tep.toml: không đọc được tệp" in capsys.readouterr().err

    assert main(["devices", "create", "bad id!", "--agency", "SNV"]) == 2
    assert "Lỗi: Mã thiết bị bad id! chỉ gồm" in capsys.readouterr().err


def test_an_unreachable_database_is_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["KC_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    run = subprocess.run(
        [sys.executable, "-m", "kycuong.cli", "agencies", "list"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "Lỗi: không kết nối được cơ sở dữ liệu. Kiểm tra KC_DATABASE_URL" in run.stderr


def test_a_handover_refusal_names_the_local_date(demo: Engine) -> None:
    with db_session(demo) as db:
        second, third = (
            db.scalars(select(Employee).where(Employee.code == code)).one()
            for code in ("NV00002", "NV00003")
        )
        card = "0001000000"  # NV00001's demo card
        midnight = local(date(2026, 12, 1), "00:00")  # 30/11/2026 17:00 UTC
        assert assign_card(db, second, card, midnight) is not None
        with pytest.raises(RosterError) as refused:
            assign_card(db, third, card, midnight)
    assert "đã được cấp cho người khác từ 01/12/2026" in refused.value.problems[0]


def test_output_piped_into_head_ends_quietly(
    demo: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kycuong devices list | head -3`: the reader of the output went away; that is no
    'Lỗi không mong muốn … Chưa chắc thao tác đã hoàn tất' (the listing was complete)."""

    class ClosedPipe:
        def write(self, _text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self) -> int:
            return os.open(os.devnull, os.O_WRONLY)

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    code = main(["devices", "list"])
    assert code == 141
    assert "Lỗi" not in capsys.readouterr().err
