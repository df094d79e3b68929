"""The admins' page Thông báo against the real PostgreSQL: counts per status, a failed
message with its Vietnamese reason, the retry button (CSRF-checked), refused to others."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, update

from kycuong.settings import Settings
from notify.recipients import employee
from services import notifications
from store.db import db_session
from store.models import OutboxMessage
from tests.integration.test_api import World, build_world
from tests.integration.test_web_pages import browser, csrf_of, sign_in
from tests.support import free_port


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    settings = Settings(
        database_url=pg_engine.url.render_as_string(hide_password=False),
        mqtt_port=free_port(),
        api_secret="test-secret-of-at-least-thirty-two-bytes",
    )
    yield build_world(pg_engine, settings)


def failed_message(world: World) -> int:
    with db_session(world.engine) as db:
        made = notifications.enqueue(
            db,
            kind="plain",
            recipient=employee(world.people["e1"]),
            dedupe_key="test:1",
            template="plain",
            context={"title": "Thử", "body": "Thử", "link": ""},
        )
        assert made is not None
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == made)
            .values(status="failed", attempts=8, last_error="Webhook trả lời lỗi HTTP 500.")
        )
    return made


def test_an_admin_sees_a_failed_message_with_its_reason_and_queues_it_again(
    world: World,
) -> None:
    message_id = failed_message(world)
    client = browser(world)
    assert sign_in(client, "admin").status_code == 303
    page = client.get("/thong-bao")
    assert page.status_code == 200
    assert '<a href="/thong-bao">Thông báo</a>' in page.text  # in the menu
    assert "Gửi không được: 1" in page.text
    assert "Webhook trả lời lỗi HTTP 500." in page.text
    stale = client.post(f"/thong-bao/{message_id}/gui-lai", data={"csrf": "x"})
    assert stale.status_code == 403
    done = client.post(
        f"/thong-bao/{message_id}/gui-lai",
        data={"csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with db_session(world.engine) as db:
        row = db.get(OutboxMessage, message_id)
        assert row is not None and row.status == "queued" and row.attempts == 0
    after = client.get(done.headers["location"])
    assert "Đã đưa thông báo vào hàng chờ gửi lại." in after.text
    again = client.post(f"/thong-bao/{message_id}/gui-lai", data={"csrf": csrf_of(page.text)})
    assert again.status_code == 409
    assert (
        "Chỉ gửi lại được thông báo đang ở trạng thái gửi không được hoặc chờ địa chỉ."
        in again.text
    )
    assert (
        client.post("/thong-bao/999999/gui-lai", data={"csrf": csrf_of(page.text)}).status_code
        == 404
    )


def test_the_page_is_refused_to_a_unit_head_and_absent_from_their_menu(world: World) -> None:
    failed_message(world)
    client = browser(world)
    sign_in(client, "head_a1")
    assert client.get("/thong-bao").status_code == 403
    assert 'href="/thong-bao"' not in client.get("/vi-pham").text
    with db_session(world.engine) as db:
        before = db.scalars(select(OutboxMessage.status)).one()
    page = client.get("/vi-pham")
    answer = client.post("/thong-bao/1/gui-lai", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 403
    with db_session(world.engine) as db:
        assert db.scalars(select(OutboxMessage.status)).one() == before == "failed"
