"""Hostile access to the API: forged tokens, guessing, oversized bodies, unreadable files."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import Engine, select

from api.app import create_app
from api.deps import WeakSecret
from kycuong.settings import Settings
from store.db import db_session
from store.models import User
from store.users import create_user
from tests.signin import bearer
from tests.support import ROOT, free_port, push_body, serving

PASSWORD = "mat-khau-du-dai-1"


def settings_for(engine: Engine, **extra: object) -> Settings:
    values: dict[str, object] = {
        "database_url": engine.url.render_as_string(hide_password=False),
        "mqtt_port": free_port(),
    }
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def engine(pg_engine: Engine) -> Engine:
    with db_session(pg_engine) as db:
        create_user(db, "admin", PASSWORD, "admin")
        create_user(db, "vanthu", PASSWORD, "hr_clerk")
        create_user(db, "truongphong", PASSWORD, "admin")
    return pg_engine


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    """The API on defaults: no KC_API_SECRET, as the quickstart and a careless deployment run."""
    with TestClient(create_app(settings_for(engine), engine)) as test_client:
        yield test_client


def user_id(engine: Engine, name: str) -> int:
    with db_session(engine) as db:
        return int(db.scalar(select(User.id).where(User.username == name)) or 0)


def repository_strings() -> set[str]:
    """Every value a deployment file, example or document of the repository carries."""
    found = {"change-me", "change-me-to-a-long-random-string", "secret"}
    for pattern in ("docker-compose.yml", ".env.example", "README.md", "examples/*", "docs/*"):
        for path in ROOT.glob(pattern):
            text = path.read_text(errors="replace")
            found |= set(re.findall(r"[=:]\s*\"?([^\s\"'$}]{4,})", text))
            found |= set(re.findall(r"\"([^\"\n]{4,80})\"", text))
    return found


def test_a_token_signed_with_any_value_of_the_repository_is_refused(
    engine: Engine, client: TestClient
) -> None:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id(engine, "admin")), "iat": now.timestamp()}
    claims["exp"] = int((now + timedelta(hours=1)).timestamp())
    candidates = repository_strings()
    assert len(candidates) > 50
    for value in candidates:
        forged = jwt.encode(claims, value, algorithm="HS256")
        answer = client.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
        assert answer.status_code == 401, value


@pytest.mark.parametrize("secret", ["change-me-to-a-long-random-string", "short"])
def test_the_api_refuses_to_start_with_a_weak_or_published_secret(
    engine: Engine, secret: str
) -> None:
    with pytest.raises(WeakSecret):
        create_app(settings_for(engine, api_secret=secret), engine)


def test_two_replicas_without_a_secret_accept_each_other_s_tokens(engine: Engine) -> None:
    first = TestClient(create_app(settings_for(engine), engine))
    second = TestClient(create_app(settings_for(engine), engine))
    assert second.get("/api/me", headers=bearer(first, "admin", PASSWORD)).status_code == 200
    assert first.get("/api/me", headers=bearer(second, "vanthu", PASSWORD)).status_code == 200


def test_a_token_without_exp_or_iat_is_refused(engine: Engine, client: TestClient) -> None:
    from api.deps import signing_secret

    key = signing_secret(settings_for(engine), engine)  # the right key
    sub = str(user_id(engine, "admin"))
    now = datetime.now(UTC)
    for claims in (
        {"sub": sub, "iat": now.timestamp()},
        {"sub": sub, "exp": int((now + timedelta(hours=1)).timestamp())},
    ):
        token = jwt.encode(claims, key, algorithm="HS256")
        assert (
            client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        )
    good = {"sub": sub, "iat": now.timestamp(), "exp": int(now.timestamp()) + 3600}
    token = jwt.encode(good, key, algorithm="HS256")
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_signing_out_and_disabling_end_the_tokens(engine: Engine, client: TestClient) -> None:
    first, second = bearer(client, "admin", PASSWORD), bearer(client, "admin", PASSWORD)
    assert client.post("/api/auth/logout", headers=first).status_code == 204
    assert client.get("/api/me", headers=first).status_code == 401
    assert client.get("/api/me", headers=second).status_code == 401  # every session of the user
    assert client.get("/api/me", headers=bearer(client, "admin", PASSWORD)).status_code == 200
    clerk = bearer(client, "vanthu", PASSWORD)
    with db_session(engine) as db:
        db.scalars(select(User).where(User.username == "vanthu")).one().active = False
    assert client.get("/api/me", headers=clerk).status_code == 401


def test_the_eleventh_wrong_password_gets_429_until_an_admin_unlocks(
    engine: Engine, client: TestClient
) -> None:
    admin = bearer(client, "admin", PASSWORD)
    for _ in range(10):
        wrong = client.post("/api/auth/token", data={"username": "truongphong", "password": "x"})
        assert wrong.status_code == 401
    eleventh = client.post("/api/auth/token", data={"username": "truongphong", "password": "x"})
    assert eleventh.status_code == 429
    assert "quá nhiều lần" in eleventh.json()["error"]["message"]
    assert int(eleventh.headers["retry-after"]) > 0
    right = client.post("/api/auth/token", data={"username": "truongphong", "password": PASSWORD})
    assert right.status_code == 429  # locked: even the right password waits
    locks = client.get("/api/auth/locks", headers=admin).json()
    assert any(lock["key"] == "user:truongphong" and lock["locked_until"] for lock in locks)
    assert (
        client.get("/api/auth/locks", headers=bearer(client, "vanthu", PASSWORD)).status_code == 403
    )
    assert client.delete("/api/auth/locks/user:truongphong", headers=admin).status_code == 204
    bearer(client, "truongphong", PASSWORD)


def test_an_oversized_upload_is_refused_before_it_is_stored(
    engine: Engine, client: TestClient, tmp_path_factory: pytest.TempPathFactory
) -> None:
    clerk = bearer(client, "vanthu", PASSWORD)
    declared = client.post(
        "/api/excuses/import",
        content=b"x",
        headers={"content-length": str(300 * 1024 * 1024), "content-type": "multipart/form-data"},
    )
    assert declared.status_code == 413  # refused from the header, before authentication
    assert "quá lớn" in declared.json()["error"]["message"]
    app = create_app(settings_for(engine), engine)
    with serving(app) as port:
        for headers in ({}, clerk):  # unauthenticated, then an hr_clerk, 300 MB without a length
            status, sent = push_body(
                port,
                "/api/excuses/import",
                300 * 1024 * 1024,
                {**headers, "content-type": "multipart/form-data; boundary=x"},
                b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n',
            )
            assert status in (413, None)
            assert sent < 20 * 1024 * 1024, f"the API read {sent} bytes of a 300 MB upload"


def xlsx_of(rows: int) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["Mã cán bộ", "Loại", "Từ ngày"])
    for i in range(rows):
        sheet.append([f"NV{i}", "Nghỉ phép năm", "01/12/2026"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("nghi.csv", "Mã cán bộ,Loại,Từ ngày\nNV1,Nghỉ phép năm,01/12/2026\n".encode("utf-16")),
        ("nghi.xlsx", b"PK\x03\x04 this is not a workbook"),
        ("nghi.xlsx", xlsx_of(3)[:-200]),
    ],
    ids=["utf-16-csv", "not-a-zip", "truncated-xlsx"],
)
def test_an_unreadable_import_file_gets_a_vietnamese_400(
    client: TestClient, name: str, content: bytes
) -> None:
    answer = client.post(
        "/api/excuses/import",
        files={"file": (name, content)},
        headers=bearer(client, "vanthu", PASSWORD),
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"].startswith(("Không đọc được", "Tệp"))


def test_a_huge_import_is_refused_by_its_row_count_without_reading_it_all(
    client: TestClient,
) -> None:
    started = time.perf_counter()
    answer = client.post(
        "/api/excuses/import",
        files={"file": ("nghi.xlsx", xlsx_of(30_000))},
        headers=bearer(client, "vanthu", PASSWORD),
    )
    assert answer.status_code == 400
    assert "quá nhiều dòng" in str(answer.json()["error"]["details"])
    print(f"refused a 30,000-row file in {time.perf_counter() - started:.2f} s")


def test_answers_carry_security_headers_and_docs_can_be_turned_off(engine: Engine) -> None:
    on = TestClient(create_app(settings_for(engine), engine))
    answer = on.get("/healthz")
    csp = answer.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert on.get("/openapi.json").status_code == 200
    off = TestClient(create_app(settings_for(engine, api_docs=False), engine))
    assert off.get("/openapi.json").status_code == 404
    assert off.get("/docs").status_code == 404


def test_kycuong_api_refuses_to_start_with_a_published_secret(tmp_path: Path) -> None:
    """As an operator runs it, from anywhere (the installed packages, services/ included)."""
    env = dict(
        os.environ,
        KC_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}",
        KC_API_SECRET="change-me-to-a-long-random-string",
        KC_API_PORT=str(free_port()),
    )
    run = subprocess.run(
        [sys.executable, "-m", "kycuong.cli", "api"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert "KC_API_SECRET must be at least 32" in run.stderr


def test_an_unexpected_fault_answers_in_vietnamese_without_a_traceback(engine: Engine) -> None:
    app = create_app(settings_for(engine, api_secret="x" * 40), engine)

    def boom() -> None:
        raise RuntimeError("secret internals: /srv/kycuong/db.py line 42")

    app.add_api_route("/api/boom", boom)
    app.add_api_route("/trang-loi", boom)
    client = TestClient(app, raise_server_exceptions=False)
    api = client.get("/api/boom")
    assert api.status_code == 500 and api.json()["error"]["code"] == "internal_error"
    page = client.get("/trang-loi")
    assert page.status_code == 500 and "text/html" in page.headers["content-type"]
    assert "Lỗi hệ thống" in page.text and "báo quản trị viên" in page.text
    for answer in (api, page):
        assert "secret internals" not in answer.text and "Traceback" not in answer.text


@pytest.mark.parametrize("path", ["/quy-dinh/xem-truoc", "/nhap-danh-sach", "/nghi-phep/nhap-tep"])
def test_an_oversized_upload_to_a_page_is_413_not_500(engine: Engine, path: str) -> None:
    # /quy-dinh/xem-truoc reads its form itself: the limit's exception reached the server
    # wrapped in the access log's task group, and the answer was a 500.
    app = create_app(settings_for(engine), engine)
    with serving(app) as port:
        status, sent = push_body(
            port,
            path,
            50 * 1024 * 1024,
            {"content-type": "multipart/form-data; boundary=x"},
            b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.toml"\r\n\r\n',
        )
    assert status in (413, None), f"{path} answered {status}"
    assert sent < 20 * 1024 * 1024


def test_a_body_that_cannot_be_parsed_is_explained_in_vietnamese(
    engine: Engine, client: TestClient
) -> None:
    garbled = {"content-type": "multipart/form-data; boundary=x"}
    page = client.post("/nhap-danh-sach", content=b"not multipart at all", headers=garbled)
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    assert "không đọc được" in page.text and "Invalid multipart" not in page.text
    api = client.post("/api/excuses/import", content=b"not multipart at all", headers=garbled)
    assert api.status_code == 400
    assert api.json()["error"] == {
        "code": "invalid_request",
        "message": "Dữ liệu gửi lên không đọc được",
    }
