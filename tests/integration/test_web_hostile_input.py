"""The unit head's and Nội vụ's pages under hostile input (review 8): a typed value quoted in
a message cannot reverse the message, the same decision sent twice is recorded once, the
withdrawn violations are listed without a decision form nobody can use."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from kycuong.inputs import BIDI_CONTROLS
from store.db import db_session
from store.models import ViolationRecord
from tests.integration.test_api import World, build_world, world_settings
from tests.integration.test_web_pages import browser, csrf_of, sign_in

RLO = "\u202e"


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


def signed_in(world: World, username: str) -> TestClient:
    client = browser(world)
    assert sign_in(client, username).status_code == 303
    return client


def messages(html: str) -> list[str]:
    """The alerts and the messages beside fields, as a person reads them."""
    return re.findall(r'<p class="(?:alert|field-error)"[^>]*>([^<]*)</p>', html)


def hidden(text: str) -> bool:
    return any(ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc" for ch in text)


@pytest.mark.parametrize(
    "path",
    [
        f"/vi-pham?tu={RLO}12/11/2026",
        f"/vi-pham?den=01/12/2026{RLO}x",
        f"/vi-pham?tim=abc{RLO}def",
        f"/hom-nay?ngay={RLO}01/12/2026",
        f"/bang-thang?thang={RLO}11&nam=2026",
        f"/bang-thang/ngay?can_bo={{e1}}&ngay={RLO}30/11/2026",
    ],
)
def test_a_typed_value_quoted_in_a_message_cannot_reverse_it(world: World, path: str) -> None:
    client = signed_in(world, "head_a1")
    answer = client.get(path.replace("{e1}", str(world.people["e1"])))
    shown = messages(answer.text)
    assert answer.status_code in (400, 404) and shown, path
    assert not any(hidden(m) for m in shown), shown
    assert any("[U+202E]" in m for m in shown), shown


def history(client: TestClient, violation: int) -> list[str]:
    page = client.get(f"/vi-pham/{violation}").text
    section = page.split("<h2>Lịch sử</h2>", 1)[1]
    return [re.sub(r"<[^>]+>", "", li) for li in re.findall(r"<li>(.*?)</li>", section, re.S)]


def test_the_same_decision_sent_twice_is_recorded_once(world: World) -> None:
    """A double click, or the back button and Gửi lại: one line "Chưa xử lý → Có lý do" in
    the history, not a second "Có lý do → Có lý do"; another note is a new decision."""
    late = world.violation_id("e1", "late")
    client = signed_in(world, "head_a1")
    form = {
        "decision": "excused",
        "reason_kind": "business_trip",
        "note": "Họp tại UBND tỉnh",
        "csrf": csrf_of(client.get(f"/vi-pham/{late}").text),
    }
    for _ in range(2):
        sent = client.post(f"/vi-pham/{late}/xu-ly", data=form, follow_redirects=False)
        assert sent.status_code == 303
    decided = [line for line in history(client, late) if "→" in line]
    assert len(decided) == 1 and "Chưa xử lý → Có lý do" in decided[0], decided
    again = world.client.post(
        f"/api/violations/{late}/review",
        headers=world.headers("head_a1"),
        json={"decision": "excused", "reason_kind": "business_trip", "note": "Họp tại UBND tỉnh"},
    )
    assert again.status_code == 200 and again.json()["previous_decision"] is None
    form["note"] = "Họp tại UBND tỉnh (giấy mời số 12)"
    client.post(f"/vi-pham/{late}/xu-ly", data=form, follow_redirects=False)
    decided = [line for line in history(client, late) if "→" in line]
    assert len(decided) == 2 and "Có lý do → Có lý do" in decided[1], decided


def test_withdrawn_violations_are_listed_without_a_decision_form(world: World) -> None:
    late = world.violation_id("e1", "late")
    with db_session(world.engine) as db:
        db.execute(
            update(ViolationRecord)
            .where(ViolationRecord.id == late)
            .values(active=False, withdrawn_at=datetime(2026, 11, 23, 9, tzinfo=UTC))
        )
    client = signed_in(world, "head_a1")
    page = client.get("/vi-pham?trang_thai=withdrawn")
    assert page.status_code == 200 and f'href="/vi-pham/{late}"' in page.text
    assert "Đã thu hồi" in page.text
    assert 'name="ids"' not in page.text  # nothing to tick...
    assert "Xử lý các vi phạm đã chọn" not in page.text  # ...so no form to decide with
    title = re.search(r"<h1>([^<]*)</h1>", page.text)
    assert title and "chờ xử lý" not in title.group(1), title
    pending = client.get("/vi-pham")  # the usual queue keeps its form and its name
    assert "Xử lý các vi phạm đã chọn" in pending.text
    assert re.search(r"<h1>Vi phạm chờ xử lý</h1>", pending.text)
