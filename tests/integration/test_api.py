"""The API against the real PostgreSQL: endpoints, scopes, reviews, leave, summaries, operations."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from api.app import create_app
from devices.provision import create_device
from ingest.pipeline import DeviceDirectory, Message, process_batch
from kycuong.settings import Settings
from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from store.db import db_session
from store.models import Agency, Credential, Employee, Unit, ViolationRecord
from store.queue import enqueue
from store.users import create_user
from tests.factories import punch_payload
from tests.signin import PASSWORD as PASSWORD  # the test users', imported from here too
from tests.signin import token
from tests.support import free_port
from tests.unit.days import local

DAY = date(2026, 11, 23)
USERS = {
    "admin": ("admin", None, None),
    "head_a1": ("unit_head", "A", "A1"),
    "head_a2": ("unit_head", "A", "A2"),
    "noivu_a": ("noi_vu", "A", None),
    "noivu_all": ("noi_vu", None, None),
    "hr_a": ("hr_clerk", "A", None),
    "auditor_b": ("auditor", "B", None),
}


@dataclass
class World:
    engine: Engine
    client: TestClient
    worker: RecomputeWorker
    people: dict[str, int]
    tokens: dict[str, str]

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, user: str, path: str, **params: object) -> Response:
        answer: Response = self.client.get(path, headers=self.headers(user), params=params)
        return answer

    def request_leave(
        self, user: str, employee: str, kind: str, first: str, last: str | None = None
    ) -> Response:
        """POST /excuses as ``user`` for one employee."""
        body = {
            "employee_code": employee,
            "kind": kind,
            "first_day": first,
            "last_day": last or first,
        }
        answer: Response = self.client.post("/api/excuses", headers=self.headers(user), json=body)
        return answer

    def violation_id(self, employee: str, kind: str) -> int:
        with db_session(self.engine) as db:
            return int(
                db.scalars(
                    select(ViolationRecord.id).where(
                        ViolationRecord.employee_id == self.people[employee],
                        ViolationRecord.kind == kind,
                    )
                ).first()
                or 0
            )


def world_settings(engine: Engine, **extra: object) -> Settings:
    """The settings of a test world on ``engine``: its own MQTT port, a fixed API secret."""
    values: dict[str, object] = {
        "database_url": engine.url.render_as_string(hide_password=False),
        "mqtt_port": free_port(),
        "api_secret": "test-secret-of-at-least-thirty-two-bytes",
    }
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


def build_world(engine: Engine, settings: Settings) -> World:
    with db_session(engine) as db:
        a = Agency(code="A", name="Sở Nội vụ tỉnh A")
        b = Agency(code="B", name="Sở Tài chính tỉnh B")
        db.add_all([a, b])
        db.flush()
        a1 = Unit(agency_id=a.id, code="A1", name="Văn phòng Sở")
        a2 = Unit(agency_id=a.id, code="A2", name="Phòng Công chức")
        b1 = Unit(agency_id=b.id, code="B1", name="Phòng Ngân sách")
        db.add_all([a1, a2, b1])
        db.flush()
        a1a = Unit(agency_id=a.id, code="A1a", name="Tổ Một cửa", parent_id=a1.id)
        db.add(a1a)
        db.flush()
        people = {}
        for code, unit in (("e1", a1), ("e2", a1a), ("e3", a2), ("e4", b1)):
            person = Employee(
                code=code,
                full_name=f"Trần Văn {code}",
                unit_id=unit.id,
                active_from=date(2024, 1, 1),
            )
            db.add(person)
            db.flush()
            db.add(
                Credential(
                    employee_id=person.id,
                    kind="card",
                    value=f"CARD-{code}",
                    valid_from=datetime(2024, 1, 1, tzinfo=UTC),
                )
            )
            people[code] = person.id
        create_device(db, "GATE", agency_code="A", registered_at=datetime(2024, 1, 1, tzinfo=UTC))
        for name, (role, agency_code, unit_code) in USERS.items():
            create_user(db, name, PASSWORD, role, agency_code=agency_code, unit_code=unit_code)
    devices = DeviceDirectory(engine)
    received = local(DAY, "08:15")
    for i, (card, hhmm) in enumerate(
        [("CARD-e1", "07:50"), ("CARD-e3", "07:45"), ("CARD-e4", "08:10")]
    ):
        body = punch_payload("GATE", f"ev{i}", card, local(DAY, hhmm))
        process_batch(
            engine, [Message("kc/v1/GATE/punch", body, received)], devices, timedelta(minutes=5)
        )
    with db_session(engine) as db:
        enqueue(db, [(people[p], DAY) for p in people], "test")
    worker = RecomputeWorker(
        engine, RulesDirectory(max_age_s=0), clock=lambda: local(DAY, "10:00").astimezone(UTC)
    )
    worker.drain()
    client = TestClient(create_app(settings, engine))
    tokens = {name: token(client, name) for name in USERS}
    return World(engine, client, worker, people, tokens)


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine, metrics_token="scraper-token"))


def codes(answer: Response) -> set[tuple[str, str]]:
    return {(v["employee_code"], v["kind"]) for v in answer.json()["items"]}


class TestSignIn:
    def test_a_wrong_password_is_refused_in_vietnamese(self, world: World) -> None:
        answer = world.client.post("/api/auth/token", data={"username": "admin", "password": "sai"})
        assert answer.status_code == 401
        assert answer.json()["error"] == {
            "code": "invalid_credentials",
            "message": "Sai tên đăng nhập hoặc mật khẩu",
        }

    @pytest.mark.parametrize("header", ["", "Bearer nonsense", "Bearer "])
    def test_no_or_a_forged_token_is_unauthorized(self, world: World, header: str) -> None:
        answer = world.client.get(
            "/api/violations", headers={"Authorization": header} if header else {}
        )
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"

    def test_an_expired_token_is_unauthorized(self, world: World) -> None:
        import jwt

        stale = jwt.encode(
            {"sub": "1", "exp": datetime.now(UTC) - timedelta(minutes=1)},
            "test-secret-of-at-least-thirty-two-bytes",
            algorithm="HS256",
        )
        assert (
            world.client.get("/api/me", headers={"Authorization": f"Bearer {stale}"}).status_code
            == 401
        )

    def test_me_shows_the_scope(self, world: World) -> None:
        me = world.get("head_a1", "/api/me").json()
        assert me["role"] == "unit_head" and len(me["unit_ids"]) == 2  # A1 and its sub-unit A1a
        assert world.get("admin", "/api/me").json()["unit_ids"] is None


class TestViolations:
    def test_each_role_lists_only_its_scope(self, world: World) -> None:
        assert codes(world.get("head_a1", "/api/violations")) == {("e1", "late"), ("e2", "absent")}
        assert codes(world.get("head_a2", "/api/violations")) == {("e3", "late")}
        assert codes(world.get("noivu_a", "/api/violations")) == {
            ("e1", "late"),
            ("e2", "absent"),
            ("e3", "late"),
        }
        assert ("e4", "late") in codes(world.get("noivu_all", "/api/violations"))
        assert codes(world.get("auditor_b", "/api/violations")) == {("e4", "late")}

    def test_keyset_pages_cover_everything_once(self, world: World) -> None:
        seen, cursor = [], None
        while True:
            params: dict[str, object] = {"limit": 1}
            if cursor:
                params["cursor"] = cursor
            page = world.get("admin", "/api/violations", **params).json()
            seen += [v["id"] for v in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        everything = [
            v["id"] for v in world.get("admin", "/api/violations", limit=500).json()["items"]
        ]
        assert seen == everything and len(seen) == len(set(seen)) >= 4
        oldest, cursor = [], None
        while True:
            params = {"limit": 2, "order": "oldest", **({"cursor": cursor} if cursor else {})}
            page = world.get("admin", "/api/violations", **params).json()
            oldest += [v["id"] for v in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert oldest == list(reversed(everything))

    def test_filters(self, world: World) -> None:
        assert codes(world.get("admin", "/api/violations", kind="absent")) == {("e2", "absent")}
        assert codes(world.get("admin", "/api/violations", employee_id=world.people["e3"])) == {
            ("e3", "late")
        }
        assert codes(world.get("admin", "/api/violations", **{"from": "2026-11-24"})) == set()
        with db_session(world.engine) as db:
            a1 = db.scalars(select(Unit.id).where(Unit.code == "A1")).one()
            b1 = db.scalars(select(Unit.id).where(Unit.code == "B1")).one()
        assert codes(world.get("noivu_a", "/api/violations", unit_id=a1)) == {
            ("e1", "late"),
            ("e2", "absent"),
        }
        assert world.get("noivu_a", "/api/violations", unit_id=b1).status_code == 404
        bad = world.get("admin", "/api/violations", **{"from": "2026-11-30", "to": "2026-11-01"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_range"
        assert world.get("admin", "/api/violations", cursor="%%%").status_code == 400
        assert world.get("admin", "/api/violations", kind="sleeping").status_code == 422

    def test_detail_shows_evidence_and_history_and_hides_what_is_out_of_scope(
        self, world: World
    ) -> None:
        late = world.violation_id("e1", "late")
        detail = world.get("head_a1", f"/api/violations/{late}").json()
        assert detail["kind_label"] == "Đi muộn" and detail["minutes"] == 20
        assert [e["device_id"] for e in detail["evidence"]] == ["GATE"]
        assert [h["action"] for h in detail["history"]] == ["detected"]
        hidden = world.get("head_a2", f"/api/violations/{late}")
        missing = world.get("head_a2", "/api/violations/99999999")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json() == missing.json()

    def test_a_unit_head_excuses_and_the_decision_is_kept_with_who_when_before_after(
        self, world: World
    ) -> None:
        late = world.violation_id("e1", "late")
        first = world.client.post(
            f"/api/violations/{late}/review",
            headers=world.headers("head_a1"),
            json={"decision": "confirmed"},
        )
        assert first.status_code == 200 and first.json()["previous_decision"] is None
        second = world.client.post(
            f"/api/violations/{late}/review",
            headers=world.headers("head_a1"),
            json={"decision": "excused", "reason_kind": "business_trip", "note": "Họp ở UBND tỉnh"},
        )
        body = second.json()
        assert (body["decision"], body["previous_decision"], body["decided_by"]) == (
            "excused",
            "confirmed",
            "head_a1",
        )
        detail = world.get("noivu_a", f"/api/violations/{late}").json()
        assert detail["review"] == "excused" and detail["review_label"] == "Có lý do"
        assert [r["decision"] for r in detail["reviews"]] == ["confirmed", "excused"]
        assert codes(world.get("head_a1", "/api/violations", review="excused")) == {("e1", "late")}
        assert codes(world.get("head_a1", "/api/violations", review="pending")) == {
            ("e2", "absent")
        }
        # Recomputation does not erase the decision.
        with db_session(world.engine) as db:
            enqueue(db, [(world.people["e1"], DAY)], "test")
        world.worker.drain()
        assert world.get("head_a1", f"/api/violations/{late}").json()["review"] == "excused"

    def test_review_errors(self, world: World) -> None:
        late = world.violation_id("e1", "late")
        no_reason = world.client.post(
            f"/api/violations/{late}/review",
            headers=world.headers("head_a1"),
            json={"decision": "excused"},
        )
        assert (
            no_reason.status_code == 400 and no_reason.json()["error"]["code"] == "reason_required"
        )
        other = world.client.post(
            f"/api/violations/{late}/review",
            headers=world.headers("head_a2"),
            json={"decision": "confirmed"},
        )
        assert other.status_code == 404
        not_allowed = world.client.post(
            f"/api/violations/{late}/review",
            headers=world.headers("noivu_a"),
            json={"decision": "confirmed"},
        )
        assert not_allowed.status_code == 403 and not_allowed.json()["error"]["message"].startswith(
            "Tài khoản"
        )
        with db_session(world.engine) as db:
            db.get(ViolationRecord, late).active = False  # type: ignore[union-attr]
        gone = world.client.post(
            f"/api/violations/{late}/review",
            headers=world.headers("head_a1"),
            json={"decision": "confirmed"},
        )
        assert gone.status_code == 409 and gone.json()["error"]["code"] == "withdrawn"

    def test_bulk_review_answers_for_each(self, world: World) -> None:
        mine = [world.violation_id("e1", "late"), world.violation_id("e2", "absent")]
        theirs = world.violation_id("e3", "late")
        answer = world.client.post(
            "/api/violations/reviews",
            headers=world.headers("head_a1"),
            json={"ids": [*mine, theirs], "decision": "dismissed", "note": "Mất điện"},
        )
        results = {r["id"]: r for r in answer.json()}
        assert all(results[i]["ok"] for i in mine)
        assert results[theirs]["ok"] is False and results[theirs]["error"] == "not_found"
        assert results[theirs]["review"] is None and "phạm vi" in results[theirs]["message"]
        assert world.get("head_a2", f"/api/violations/{theirs}").json()["review"] is None


class TestLeave:
    def test_register_approve_cancel_within_scope(self, world: World) -> None:
        created = world.request_leave("hr_a", "e2", "sick_leave", "2026-11-23")
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["status"], body["kind_label"], body["created_by"]) == (
            "pending",
            "Nghỉ ốm",
            "hr_a",
        )
        approved = world.client.post(
            f"/api/excuses/{body['id']}/approve", headers=world.headers("head_a1")
        )
        assert approved.json()["status_label"] == "Đã duyệt"
        world.worker.drain()
        assert codes(world.get("head_a1", "/api/violations")) == {
            ("e1", "late")
        }  # the absence is cleared
        assert ("e2", "absent") in codes(world.get("head_a1", "/api/violations", state="withdrawn"))
        cancelled = world.client.post(
            f"/api/excuses/{body['id']}/cancel", headers=world.headers("hr_a")
        )
        assert cancelled.json()["status"] == "cancelled"
        world.worker.drain()
        assert ("e2", "absent") in codes(world.get("head_a1", "/api/violations"))  # restored
        again = world.client.post(
            f"/api/excuses/{body['id']}/approve", headers=world.headers("hr_a")
        )
        assert again.status_code == 409
        listed = world.get("head_a1", "/api/excuses").json()
        assert [e["id"] for e in listed] == [body["id"]]
        assert world.get("head_a2", "/api/excuses").json() == []

    def test_leave_for_someone_out_of_scope_or_bad_dates_is_refused(self, world: World) -> None:
        outside = world.request_leave("hr_a", "e4", "annual_leave", "2026-11-23")
        assert outside.status_code == 404
        backwards = world.request_leave(
            "hr_a", "e3", "annual_leave", "2026-11-23", last="2026-11-20"
        )
        assert (
            backwards.status_code == 400 and "Ngày kết thúc" in backwards.json()["error"]["message"]
        )
        auditor = world.request_leave("auditor_b", "e4", "annual_leave", "2026-11-23")
        assert auditor.status_code == 403

    def test_import_is_all_or_nothing(self, world: World) -> None:
        header = "Mã cán bộ,Loại,Từ ngày,Đến ngày,Buổi,Trạng thái\n"
        good = header + "e3,Nghỉ phép năm,23/11/2026,23/11/2026,sáng,Đã duyệt\n"
        bad = good + "e4,ốm,23/11/2026,,,\nx9,phép,23/11/2026,,,\n"
        answer = world.client.post(
            "/api/excuses/import",
            headers=world.headers("hr_a"),
            files={"file": ("nghi.csv", bad.encode(), "text/csv")},
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["details"] == [
            "Dòng 3: không tìm thấy cán bộ e4",
            "Dòng 4: không tìm thấy cán bộ x9",
        ]
        assert world.get("hr_a", "/api/excuses").json() == []
        answer = world.client.post(
            "/api/excuses/import",
            headers=world.headers("hr_a"),
            files={"file": ("nghi.csv", good.encode(), "text/csv")},
        )
        assert answer.json()["created"] == 1
        again = world.client.post(  # the same file a second time: nothing doubled
            "/api/excuses/import",
            headers=world.headers("hr_a"),
            files={"file": ("nghi.csv", good.encode(), "text/csv")},
        )
        assert again.status_code == 400
        assert again.json()["error"]["details"][0].startswith(
            "Dòng 2: e3 đã có đơn Nghỉ phép năm 23/11/2026 giống hệt (số "
        )
        assert len(world.get("hr_a", "/api/excuses").json()) == 1
        leave = world.get("hr_a", "/api/excuses").json()[0]
        assert (leave["kind"], leave["sessions"], leave["status"]) == (
            "annual_leave",
            ["morning"],
            "approved",
        )
        wrong = world.client.post(
            "/api/excuses/import",
            headers=world.headers("hr_a"),
            files={"file": ("x.pdf", b"%PDF", "application/pdf")},
        )
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "unsupported_file"


class TestSummaries:
    def test_json_counts_per_unit_and_person_in_scope(self, world: World) -> None:
        body = world.get("noivu_a", "/api/summaries", period="month", year=2026, month=11).json()
        assert body["scope"] == "Sở Nội vụ tỉnh A"
        assert {u["name"] for u in body["units"]} == {
            "Văn phòng Sở",
            "Tổ Một cửa",
            "Phòng Công chức",
        }
        people = {p["code"]: p for p in body["people"]}
        assert set(people) == {"e1", "e2", "e3"}
        assert (people["e1"]["late_count"], people["e1"]["late_minutes"]) == (1, 20)
        # At 10:00 only the morning is known to be missed: half a day.
        assert people["e2"]["absent_days"] == 0.5 and people["e2"]["present_days"] == 0
        assert body["total"]["staff"] == 3 and body["total"]["late_count"] == 2
        assert (
            body["units"][0]["rank"] == 1
            and body["units"][0]["rate_per_100_days"] >= body["units"][-1]["rate_per_100_days"]
        )
        assert body["period"]["label"] == "Tháng 11/2026 (từ 01/11/2026 đến 30/11/2026)"

    def test_csv_opens_in_excel_and_xlsx_has_a_sheet_per_unit(self, world: World) -> None:
        answer = world.get(
            "noivu_a", "/api/summaries", period="month", year=2026, month=11, format="csv"
        )
        raw = answer.content
        assert raw.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert rows[0][:4] == ["STT", "Đơn vị", "Tổng số CBCCVC", "Số ngày làm việc"]
        assert len(rows) == 4
        workbook = world.get(
            "noivu_a", "/api/summaries", period="quarter", year=2026, quarter=4, format="xlsx"
        )
        book = load_workbook(io.BytesIO(workbook.content))
        assert book.sheetnames[0] == "Tổng hợp" and set(book.sheetnames[1:]) == {
            "Văn phòng Sở",
            "Tổ Một cửa",
            "Phòng Công chức",
        }
        totals = book["Tổng hợp"]  # the official document (services/documents)
        assert totals["A1"].value == "SỞ NỘI VỤ TỈNH A"
        assert str(totals["A5"].value).startswith("Kỳ báo cáo: Quý 4/2026")
        assert str(totals["A7"].value).startswith("Thời điểm lập: ")
        assert [c.value for c in totals[9]][:4] == ["STT", "Mã đơn vị", "Đơn vị", "Tổng số CBCCVC"]
        sheet = book["Phòng Công chức"]
        assert [c.value for c in sheet[10]][1:3] == ["e3", "Trần Văn e3"]

    def test_period_errors_and_scope(self, world: World) -> None:
        assert world.get("noivu_a", "/api/summaries", period="month", year=2026).status_code == 400
        with db_session(world.engine) as db:
            b1 = db.scalars(select(Unit.id).where(Unit.code == "B1")).one()
        assert world.get("noivu_a", "/api/summaries", period="year", unit_id=b1).status_code == 404
        assert world.get("hr_a", "/api/summaries", period="year").status_code == 403
        head = world.get("head_a2", "/api/summaries", period="year").json()
        assert [p["code"] for p in head["people"]] == ["e3"] and head["scope"] == "Phòng Công chức"


class TestOperations:
    def test_health_metrics_and_devices(self, world: World) -> None:
        assert world.client.get("/healthz").json()["status"] == "ok"
        ready = world.client.get("/readyz")
        assert (
            ready.status_code == 503 and ready.json()["checks"]["database"] == "ok"
        )  # no broker on that port
        assert world.client.get("/metrics").status_code == 404  # only with the token
        wrong = {"Authorization": "Bearer guess"}
        assert world.client.get("/metrics", headers=wrong).status_code == 404
        scraper = {"Authorization": "Bearer scraper-token"}
        metrics = world.client.get("/metrics", headers=scraper).text
        assert "kc_recompute_queue 0.0" in metrics and "kc_devices" in metrics
        devices = world.get("admin", "/api/devices").json()
        assert devices[0]["id"] == "GATE" and devices[0]["last_seen_at"] is not None
        assert world.get("head_a1", "/api/devices").status_code == 403

    def test_openapi_documents_every_route_with_vietnamese_summaries(self, world: World) -> None:
        spec = world.client.get("/openapi.json").json()
        assert {
            "/api/violations",
            "/api/violations/{violation_id}",
            "/api/violations/{violation_id}/review",
            "/api/summaries",
            "/api/excuses/import",
            "/api/devices",
        } <= set(spec["paths"])
        assert spec["paths"]["/api/summaries"]["get"]["summary"].startswith("Báo cáo")
