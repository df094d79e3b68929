"""The readers, dead-letter, unknown-card and credential pages against the real PostgreSQL:
enable, disable and a new password shown once (admins only: an HR clerk gets a Vietnamese
403), reasons in Vietnamese by code, an unknown card assigned from its page and matched."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import bcrypt
import pytest
from sqlalchemy import Engine, delete, select

from devices.provision import nats_hash, verify_password
from ingest.pipeline import DeviceDirectory, Message, process_batch
from store.db import db_session
from store.models import Credential, DeadLetter, Device, RecomputeRequest, UnmatchedPunch
from tests.factories import punch_payload
from tests.integration.test_api import DAY, World, build_world, world_settings
from tests.integration.test_web_pages import EXTERNAL
from tests.signin import csrf_of, signed_in
from tests.unit.days import local


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


def send(world: World, body: bytes) -> None:
    process_batch(
        world.engine,
        [Message("kc/v1/GATE/punch", body, local(DAY, "08:15"))],
        DeviceDirectory(world.engine),
        timedelta(minutes=5),
    )


def device(world: World) -> Device:
    with db_session(world.engine) as db:
        found = db.get(Device, "GATE")
        assert found is not None
        db.expunge(found)
        return found


def test_an_admin_sees_the_readers_and_disables_enables_and_rotates_one(world: World) -> None:
    client = signed_in(world, "admin")
    page = client.get("/dau-doc")
    assert page.status_code == 200 and "Đầu đọc" in page.text
    assert "23/11/2026 08:15" in page.text  # last seen, in Hà Nội time
    token = csrf_of(page.text)
    off = client.post("/dau-doc/GATE/khoa", data={"csrf": token}, follow_redirects=False)
    assert off.status_code == 303 and not device(world).enabled
    assert "Đã khóa đầu đọc GATE" in client.get(off.headers["location"]).text
    on = client.post("/dau-doc/GATE/mo-khoa", data={"csrf": token}, follow_redirects=False)
    assert on.status_code == 303 and device(world).enabled
    before = device(world).secret_hash
    shown = client.post("/dau-doc/GATE/doi-mat-khau", data={"csrf": token})
    assert shown.status_code == 200 and "chỉ hiện một lần" in shown.text
    secret = re.search(r"<code>([A-Za-z0-9_-]{20,})</code>", shown.text)
    assert secret is not None
    after = device(world).secret_hash
    assert after != before and verify_password(secret.group(1), after)
    # The page says how each broker learns it; the NATS cluster checks a bcrypt hash of it.
    assert "broker-files --broker nats" in shown.text
    bcrypt_hash = nats_hash(after)
    assert bcrypt_hash is not None and bcrypt.checkpw(
        secret.group(1).encode(), bcrypt_hash.encode()
    )
    assert secret.group(1) not in client.get("/dau-doc").text  # never shown again


def test_an_hr_clerk_cannot_rotate_or_open_the_readers_page(world: World) -> None:
    client = signed_in(world, "hr_a")
    page = client.get("/dau-doc")
    assert page.status_code == 403
    assert "không có quyền thực hiện thao tác này" in page.text
    token = csrf_of(client.get("/the-chua-dang-ky").text)
    before = device(world).secret_hash
    refused = client.post("/dau-doc/GATE/doi-mat-khau", data={"csrf": token})
    assert refused.status_code == 403 and "không có quyền" in refused.text
    disabled = client.post("/dau-doc/GATE/khoa", data={"csrf": token})
    assert disabled.status_code == 403
    assert device(world).secret_hash == before and device(world).enabled


def test_an_auditor_reads_only_their_agencys_readers_and_cannot_change_them(
    world: World,
) -> None:
    client = signed_in(world, "auditor_b")
    page = client.get("/dau-doc")
    assert page.status_code == 200 and "GATE" not in page.text  # GATE is agency A's
    assert ">Đổi mật khẩu</button>" not in page.text
    forged = client.post("/dau-doc/GATE/khoa", data={"csrf": csrf_of(page.text)})
    assert forged.status_code == 403 and device(world).enabled


def test_a_refused_message_is_listed_with_its_vietnamese_reason(world: World) -> None:
    send(world, b'{"v": 1, "event_id": ')
    with db_session(world.engine) as db:
        assert db.scalars(select(DeadLetter.reason_code)).all() == ["malformed_json"]
    client = signed_in(world, "admin")
    page = client.get("/dau-doc/tin-bi-tu-choi?may=GATE")
    assert page.status_code == 200
    assert "Dữ liệu không phải JSON" in page.text and "23/11/2026 08:15" in page.text


def test_a_forged_reader_action_without_the_form_token_is_refused(world: World) -> None:
    client = signed_in(world, "admin")
    answer = client.post("/dau-doc/GATE/khoa", data={}, follow_redirects=False)
    assert answer.status_code == 403 and device(world).enabled


def test_an_unknown_card_is_listed_and_assigned_from_its_page(world: World) -> None:
    send(world, punch_payload("GATE", "lost-1", "CARD-NEW", local(DAY, "07:40")))
    client = signed_in(world, "hr_a")
    listed = client.get("/the-chua-dang-ky")
    assert listed.status_code == 200
    assert "CARD-NEW" in listed.text and "23/11/2026 07:40" in listed.text
    form = client.get("/the-chua-dang-ky/gan?loai=card&ma=CARD-NEW&may=GATE")
    assert form.status_code == 200 and "Gán thẻ CARD-NEW cho cán bộ" in form.text
    token = csrf_of(form.text)
    fields = {"loai": "card", "ma": "CARD-NEW", "may": "GATE", "pham_vi": "", "tu": "23/11/2026"}
    outside = client.post("/the-chua-dang-ky/gan", data={**fields, "can_bo": "e4", "csrf": token})
    assert outside.status_code == 400  # agency B's person is outside the clerk's scope
    assert "không tồn tại hoặc nằm ngoài phạm vi" in outside.text
    with db_session(world.engine) as db:
        db.execute(delete(RecomputeRequest))
    # The placeholder says "Gõ mã hoặc tên": a full name typed (any case) names the person.
    done = client.post(
        "/the-chua-dang-ky/gan",
        data={**fields, "can_bo": "trần văn e3", "csrf": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert "Đã gán cho Trần Văn e3 (e3); 1 lượt chấm công" in after.text
    assert "CARD-NEW" not in after.text
    with db_session(world.engine) as db:
        matched = db.scalars(select(UnmatchedPunch.matched_employee_id)).one()
        queued = set(db.execute(select(RecomputeRequest.employee_id, RecomputeRequest.day)).all())
    assert matched == world.people["e3"] and (world.people["e3"], DAY) in queued


def test_a_person_gets_an_enrolment_number_on_one_reader_from_their_page(world: World) -> None:
    client = signed_in(world, "hr_a")
    e1 = world.people["e1"]
    page = client.get(f"/can-bo/{e1}/the")
    assert page.status_code == 200 and "CARD-e1" in page.text and "Mọi máy của cơ quan" in page.text
    token = csrf_of(page.text)
    fields = {"loai": "pin", "ma": "CB003", "tu": "01/12/2026", "csrf": token}
    unscoped = client.post(f"/can-bo/{e1}/the", data={**fields, "pham_vi": ""})
    assert unscoped.status_code == 400 and "hãy chọn máy" in unscoped.text
    saved = client.post(
        f"/can-bo/{e1}/the", data={**fields, "pham_vi": "device:GATE"}, follow_redirects=False
    )
    assert saved.status_code == 303
    shown = client.get(saved.headers["location"])
    assert "Đã lưu; 0 lượt chấm công" in shown.text and "Máy GATE" in shown.text
    assert "01/12/2026" in shown.text
    with db_session(world.engine) as db:
        pin = db.scalars(select(Credential).where(Credential.kind == "pin")).one()
    assert (pin.device_id, pin.employee_id) == ("GATE", e1)
    e4 = world.people["e4"]
    assert client.get(f"/can-bo/{e4}/the").status_code == 404  # another agency's person
    head = signed_in(world, "head_a1")
    assert head.get(f"/can-bo/{e1}/the").status_code == 403  # a unit head registers nothing


def test_odd_links_answer_a_vietnamese_page_never_a_500_and_load_nothing_from_outside(
    world: World,
) -> None:
    client = signed_in(world, "admin")
    for path in ("/can-bo/abc/the", "/can-bo/99999999999999/the", "/can-bo/-1/the"):
        page = client.get(path)
        assert page.status_code == 404 and "phạm vi của bạn" in page.text, path
    missing = client.get("/the-chua-dang-ky/gan?loai=card&ma=KHONG-CO&may=GATE")
    assert missing.status_code == 404 and "Thẻ chưa đăng ký không tồn tại" in missing.text
    token = csrf_of(client.get("/dau-doc").text)
    assert client.post("/dau-doc/KHONG-CO/khoa", data={"csrf": token}).status_code == 404
    for path in (
        "/the-chua-dang-ky?da_gan=99999999999.5",
        "/the-chua-dang-ky?da_gan=<b>giả</b>",
        "/dau-doc?xong=khoa&may=<script>",
        "/dau-doc/tin-bi-tu-choi?may=" + "x" * 500,
    ):
        page = client.get(path)
        assert page.status_code == 200 and "<script>" not in page.text and "giả" not in page.text
    for path in ("/the-chua-dang-ky", "/dau-doc", "/dau-doc/tin-bi-tu-choi",
                 f"/can-bo/{world.people['e1']}/the"):  # fmt: skip
        html = client.get(path).text
        assert not EXTERNAL.search(html), path
