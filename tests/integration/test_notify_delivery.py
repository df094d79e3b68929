"""The outbox's delivery against real PostgreSQL, a real SMTP server (aiosmtpd) and a real
HTTP endpoint: each message sent exactly once through a crash, a restart and two senders at
once; retries with backoff until a webhook answers; failures visible and retried by hand."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, func, select, update

from kycuong.errors import KcError
from notify.channels import EmailChannel, SmtpConfig, WebhookChannel, WebhookConfig
from notify.quiet import QuietHours
from notify.recipients import employee
from notify.sender import Sender, SenderConfig
from rules.zones import zone
from services import notifications
from services.scope import Scope
from store.db import db_session
from store.models import Employee, OutboxMessage
from tests.factories import org
from tests.mail import body_text, smtp_server, webhook_server
from tests.support import wait_for

ADMIN = Scope(1, "admin", "admin", None)


def people_with_email(engine: Engine, count: int) -> list[int]:
    org(engine, employees=count)
    with db_session(engine) as db:
        ids = list(db.scalars(select(Employee.id).order_by(Employee.id)))
        for i in ids:
            db.execute(update(Employee).where(Employee.id == i).values(email=f"cb{i}@so.gov.vn"))
    return ids


def queue_plain(engine: Engine, ids: list[int], per_person: int = 1) -> None:
    with db_session(engine) as db:
        for i in ids:
            for n in range(per_person):
                notifications.enqueue(
                    db,
                    kind="plain",
                    recipient=employee(i),
                    dedupe_key=f"test:{i}:{n}",
                    template="plain",
                    context={"title": f"Thông báo số {n}", "body": "Nội dung thử.", "link": ""},
                )


def statuses(engine: Engine) -> dict[str, int]:
    with db_session(engine) as db:
        rows = db.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    return {s: int(n) for s, n in rows}


def smtp_sender(port: int, engine: Engine, lease_s: float = 2.0) -> Sender:
    return Sender(
        engine,
        {"email": EmailChannel(SmtpConfig(host="127.0.0.1", port=port, starttls=False))},
        SenderConfig(quiet=None, lease=timedelta(seconds=lease_s), batch=5, poll_s=0.05),
    )


def test_a_crash_a_restart_and_two_senders_at_once_send_each_message_exactly_once(
    pg_engine: Engine, tmp_path: Path
) -> None:
    ids = people_with_email(pg_engine, 20)
    queue_plain(pg_engine, ids, per_person=3)  # written and committed; no sender running yet
    with smtp_server() as sink:
        env = {
            **os.environ,
            "KC_DATABASE_URL": pg_engine.url.render_as_string(hide_password=False),
            "KC_SMTP_HOST": "127.0.0.1",
            "KC_SMTP_PORT": str(sink.port),
            "KC_SMTP_STARTTLS": "false",
            "KC_NOTIFY_LEASE_S": "2",
            "KC_NOTIFY_POLL_S": "0.1",
            "KC_NOTIFY_QUIET_HOURS": "",
        }
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("kycuong")), "notify", "send"],
            env=env,
            cwd=tmp_path,
        )

        def crash_on_the_tenth(message: EmailMessage, seen: int) -> str | None:
            # The sender dies in the middle of a conversation: the message is not accepted,
            # and the process holds claims it will never release.
            if seen == 10:
                os.kill(process.pid, signal.SIGKILL)
                return "451 4.3.0 try again later"
            return None

        sink.hook = crash_on_the_tenth
        try:
            wait_for(lambda: process.poll() is not None, 60, "the first sender to be killed")
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)
        assert len(sink.ids()) == 9
        stuck = statuses(pg_engine).get("sending", 0)
        assert stuck >= 1, "the killed sender held claims"

        # Restart: two senders at once, each on its own connections, after the killed one's
        # 2-second lease. Their own leases are long: on a loaded machine a batch of five SMTP
        # conversations can outlast 2 s, and a lease that expires mid-send is a resend by design.
        senders = [smtp_sender(sink.port, pg_engine, 120), smtp_sender(sink.port, pg_engine, 120)]
        for sender in senders:
            sender.start()
        try:
            wait_for(lambda: statuses(pg_engine) == {"sent": 60}, 60, "every message sent")
        finally:
            for sender in senders:
                sender.stop()
        ids_seen = sink.ids()
        assert len(ids_seen) == 60 and len(set(ids_seen)) == 60
        # A third start later sends nothing already sent.
        assert smtp_sender(sink.port, pg_engine).drain().claimed == 0
        assert len(sink.ids()) == 60
    with db_session(pg_engine) as db:
        retried = db.scalar(select(func.count()).where(OutboxMessage.attempts == 2))
    assert retried == stuck  # the killed sender's claims were each tried once more


def webhook_sender(
    engine: Engine, port: int, clock: list[datetime], max_attempts: int = 8
) -> Sender:
    channel = WebhookChannel(WebhookConfig(url=f"http://127.0.0.1:{port}/hook", secret="bí-mật"))
    return Sender(
        engine,
        {"email": EmailChannel(SmtpConfig(host=None)), "webhook": channel},
        SenderConfig(quiet=None, max_attempts=max_attempts, backoff_s=30, backoff_max_s=3600),
        clock=lambda: clock[0],
    )


def test_a_webhook_that_fails_five_times_gets_the_message_on_the_sixth_try(
    pg_engine: Engine,
) -> None:
    org(pg_engine, employees=1)  # no e-mail: the webhook is the way to reach the person
    with db_session(pg_engine) as db:
        person = db.scalars(select(Employee.id)).one()
        db.execute(update(Employee).values(phone="0912345678"))
    queue_plain(pg_engine, [person])
    clock = [datetime.now(UTC)]
    with webhook_server([500, 502, 503, 500, 429]) as hook:
        sender = webhook_sender(pg_engine, hook.port, clock)
        delays = []
        for attempt in range(1, 7):
            stats = sender.run_once()
            assert stats.claimed == 1, f"attempt {attempt} was due"
            with db_session(pg_engine) as db:
                row = db.scalars(select(OutboxMessage)).one()
            if attempt < 6:
                assert row.status == "queued" and row.attempts == attempt
                assert row.last_error and row.last_error.startswith("Webhook trả lời lỗi HTTP")
                assert sender.run_once().claimed == 0  # not before its time
                delays.append(row.next_attempt_at - clock[0])
                clock[0] = row.next_attempt_at
        assert row.status == "sent" and row.attempts == 6 and row.sent_at is not None
        assert len(hook.requests) == 6
        assert delays == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
        headers, body = hook.requests[-1]
        expected = hmac.new(
            "bí-mật".encode(), headers["x-kc-timestamp"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert headers["x-kc-signature"] == f"sha256={expected}"
        assert {h["x-kc-message-id"] for h, _ in hook.requests} == {f"kc-{row.id}"}
        payload = json.loads(body)
        assert payload["recipient"]["phone"] == "0912345678"
        assert "Nội dung thử." in payload["text"]


def test_a_message_past_its_last_attempt_is_failed_visibly_and_a_retry_sends_it(
    pg_engine: Engine,
) -> None:
    org(pg_engine, employees=1)
    with db_session(pg_engine) as db:
        person = db.scalars(select(Employee.id)).one()
    queue_plain(pg_engine, [person])
    clock = [datetime.now(UTC)]
    before = REGISTRY.get_sample_value(
        "kc_notify_failures_total", {"channel": "webhook", "outcome": "failed"}
    )
    with webhook_server([500, 500]) as hook:
        sender = webhook_sender(pg_engine, hook.port, clock, max_attempts=2)
        sender.run_once()
        clock[0] += timedelta(minutes=1)
        sender.run_once()
        with db_session(pg_engine) as db:
            row = db.scalars(select(OutboxMessage)).one()
            view = notifications.page(db, ADMIN, "failed", None)
        assert row.status == "failed" and row.last_error == "Webhook trả lời lỗi HTTP 500."
        assert [m.id for m in view.messages] == [row.id] and view.counts == {"failed": 1}
        after = REGISTRY.get_sample_value(
            "kc_notify_failures_total", {"channel": "webhook", "outcome": "failed"}
        )
        assert (after or 0) - (before or 0) == 1
        clock[0] += timedelta(days=1)
        assert sender.run_once().claimed == 0  # failed stays failed until someone acts
        with db_session(pg_engine) as db:
            notifications.retry(db, ADMIN, row.id, clock[0])
        assert sender.run_once().sent == 1
        assert len(hook.requests) == 3
    assert statuses(pg_engine) == {"sent": 1}


def test_a_notice_without_an_address_waits_and_goes_when_the_address_is_added(
    pg_engine: Engine,
) -> None:
    """No e-mail on the person: the notice is not a failure but waits (chờ địa chỉ), shown on
    the page, and goes as soon as an address is added: by a contact edit, by a roster file
    with an E-mail column, or by any other path at the next hourly check."""
    from notify.sender import NO_ADDRESS
    from services import roster

    org(pg_engine, employees=3)
    with db_session(pg_engine) as db:
        ids = list(db.scalars(select(Employee.id).order_by(Employee.id)))
    queue_plain(pg_engine, ids)
    ahead = [timedelta(0)]  # the sender's clock runs with the real one (the release's "now")
    with smtp_server() as sink:
        sender = Sender(
            pg_engine,
            {"email": EmailChannel(SmtpConfig(host="127.0.0.1", port=sink.port, starttls=False))},
            SenderConfig(quiet=None, poll_s=0.05),
            clock=lambda: datetime.now(UTC) + ahead[0],
        )
        stats = sender.drain()
        assert (stats.waiting, stats.failed, stats.sent) == (3, 0, 0) and sink.messages == []
        with db_session(pg_engine) as db:
            rows = list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
            view = notifications.page(db, ADMIN, "waiting", None)
        assert {(r.status, r.attempts, r.last_error) for r in rows} == {("waiting", 0, NO_ADDRESS)}
        assert view.counts == {"waiting": 3} and len(view.messages) == 3
        assert notifications.STATUS["waiting"] == "Chờ địa chỉ"
        assert sender.drain().claimed == 0  # nothing new: no attempt is spent on them

        # 1. the HR clerk adds an e-mail (kycuong notify contact, the same service)
        with db_session(pg_engine) as db:
            notifications.set_contact(db, employee(ids[0]), email="cb0@so.gov.vn")
        assert sender.drain().sent == 1
        assert [m["To"] for m in sink.messages] == ["cb0@so.gov.vn"]

        # 2. a roster file with an E-mail column
        text = "Mã cán bộ,Họ và tên,Đơn vị,E-mail\nE0001,Nguyễn Văn 1,P1,cb1@so.gov.vn\n"
        with db_session(pg_engine) as db:
            table = roster.read(text.encode(), "lien-he.csv", "employees")
            plan = roster.preview(db, ADMIN, "employees", table, date(2026, 12, 1))
            assert plan.rows[0].changes == ("E-mail: (trống) → cb1@so.gov.vn",)
            roster.apply(db, ADMIN, "employees", table, date(2026, 12, 1))
        assert sender.drain().sent == 1
        assert sink.messages[-1]["To"] == "cb1@so.gov.vn"

        # 3. an address written by another path: found at the next check, an hour later
        with db_session(pg_engine) as db:
            db.execute(update(Employee).where(Employee.id == ids[2]).values(email="cb2@so.gov.vn"))
        assert sender.drain().claimed == 0
        ahead[0] = timedelta(hours=1, seconds=1)
        assert sender.drain().sent == 1
        assert sink.messages[-1]["To"] == "cb2@so.gov.vn"
    assert statuses(pg_engine) == {"sent": 3}


def test_a_waiting_notice_of_a_withdrawn_violation_is_cancelled(pg_engine: Engine) -> None:
    org(pg_engine, employees=1)
    with db_session(pg_engine) as db:
        person = db.scalars(select(Employee.id)).one()
    queue_plain(pg_engine, [person])
    with smtp_server() as sink:
        assert smtp_sender(sink.port, pg_engine).drain().waiting == 1
    with db_session(pg_engine) as db:
        assert notifications.cancel(db, [f"test:{person}:0"]) == 1
    assert statuses(pg_engine) == {"cancelled": 1}


def test_an_email_is_vietnamese_with_text_and_html_and_a_stable_message_id(
    pg_engine: Engine,
) -> None:
    ids = people_with_email(pg_engine, 1)
    queue_plain(pg_engine, ids)
    with smtp_server() as sink:
        smtp_sender(sink.port, pg_engine).drain()
    [mail] = sink.messages
    assert mail["Subject"] == "[Sở Thử nghiệm] Thông báo số 0"
    assert mail["To"] == f"cb{ids[0]}@so.gov.vn"
    assert "Kính gửi Nguyễn Văn 0," in body_text(mail)
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and "<p>Nội dung thử.</p>" in html.get_content()
    assert str(mail["Message-ID"]).startswith("<kc.1.")


def test_quiet_hours_delay_a_message_to_their_end_and_the_chosen_channel_is_used(
    pg_engine: Engine,
) -> None:
    ids = people_with_email(pg_engine, 2)
    with db_session(pg_engine) as db:
        notifications.set_contact(db, employee(ids[0]), quiet="21:00-06:30")
        notifications.set_contact(db, employee(ids[1]), channel="webhook", quiet="none")
    queue_plain(pg_engine, ids)
    tz = zone("Asia/Ho_Chi_Minh")
    day = datetime.now(UTC).astimezone(tz).date() + timedelta(days=2)  # after they were queued
    evening = datetime.combine(day, time(22, 0), tzinfo=tz)
    morning = datetime.combine(day + timedelta(days=1), time(6, 30), tzinfo=tz)
    clock = [evening]
    with smtp_server() as sink, webhook_server([]) as hook:
        sender = Sender(
            pg_engine,
            {
                "email": EmailChannel(SmtpConfig(host="127.0.0.1", port=sink.port, starttls=False)),
                "webhook": WebhookChannel(WebhookConfig(url=f"http://127.0.0.1:{hook.port}/")),
            },
            SenderConfig(quiet=QuietHours.parse("22:30-05:00")),
            clock=lambda: clock[0],
        )
        stats = sender.drain()
        assert (stats.postponed, stats.sent) == (1, 1)  # the second person: no quiet hours
        assert len(hook.requests) == 1 and sink.messages == []
        with db_session(pg_engine) as db:
            waiting = db.scalars(
                select(OutboxMessage).where(OutboxMessage.status == "queued")
            ).one()
        assert waiting.attempts == 0
        assert waiting.next_attempt_at == morning
        clock[0] = morning + timedelta(minutes=1)
        assert sender.drain().sent == 1
        assert [m["To"] for m in sink.messages] == [f"cb{ids[0]}@so.gov.vn"]


def test_contacts_and_preferences_refuse_bad_input_in_vietnamese(pg_engine: Engine) -> None:
    ids = people_with_email(pg_engine, 1)
    with db_session(pg_engine) as db:
        cases: tuple[tuple[dict[str, Any], str], ...] = (
            ({"email": "không-phải-email"}, "Địa chỉ e-mail “không-phải-email” không hợp lệ."),
            ({"phone": "gọi tôi"}, "Số điện thoại “gọi tôi” không hợp lệ."),
            ({"quiet": "tối"}, "Giờ yên lặng “tối” không hợp lệ (dạng 21:00-06:30)."),
            ({"channel": "fax"}, "Kênh nhận phải là email, webhook hoặc auto."),
        )
        for kwargs, message in cases:
            with pytest.raises(KcError) as caught:
                notifications.set_contact(db, employee(ids[0]), **kwargs)
            assert caught.value.message == message
        with pytest.raises(KcError):
            notifications.set_contact(db, "employee:999999", email="a@b.vn")


def test_a_notice_waiting_longer_than_the_limit_expires_and_is_never_sent(
    pg_engine: Engine,
) -> None:
    """Review 12d: chờ địa chỉ never ended, so an address added a month later sent a month-old
    notice. A notice waits at most ``address_wait`` (KC_NOTIFY_ADDRESS_WAIT_DAYS, 7) from
    its first wait: an address a minute before the limit sends it, one at or after the limit
    does not (whether the sender marked it expired first or not), and the page says so."""
    from notify.sender import expired_reason

    org(pg_engine, employees=3)
    with db_session(pg_engine) as db:
        ids = list(db.scalars(select(Employee.id).order_by(Employee.id)))
    queue_plain(pg_engine, ids)
    start = datetime.now(UTC)
    clock = [start]
    week = timedelta(days=7)
    with smtp_server() as sink:
        sender = Sender(
            pg_engine,
            {"email": EmailChannel(SmtpConfig(host="127.0.0.1", port=sink.port, starttls=False))},
            SenderConfig(quiet=None, poll_s=0.05, address_wait=week),
            clock=lambda: clock[0],
        )
        assert sender.drain().waiting == 3
        with db_session(pg_engine) as db:
            deadlines = set(db.scalars(select(OutboxMessage.expires_at)))
        assert deadlines == {start + week}
        # The hourly checks up to a minute before the limit keep the first deadline.
        clock[0] = start + week - timedelta(minutes=1)
        stats = sender.drain()
        assert (stats.waiting, stats.expired, stats.sent) == (3, 0, 0)
        with db_session(pg_engine) as db:
            assert set(db.scalars(select(OutboxMessage.expires_at))) == {start + week}
            notifications.set_contact(db, employee(ids[0]), email="cb0@so.gov.vn", now=clock[0])
        assert sender.drain().sent == 1  # just inside the limit: it goes

        # At the limit: an address added before the sender looked again releases nothing…
        clock[0] = start + week
        with db_session(pg_engine) as db:
            notifications.set_contact(db, employee(ids[1]), email="cb1@so.gov.vn", now=clock[0])
        # …and the sender marks both that one and the one still without an address expired.
        stats = sender.drain()
        assert (stats.expired, stats.sent, stats.claimed) == (2, 0, 0)
        # An address a day later sends nothing either.
        clock[0] = start + week + timedelta(days=1)
        with db_session(pg_engine) as db:
            notifications.set_contact(db, employee(ids[2]), email="cb2@so.gov.vn", now=clock[0])
        assert sender.drain().sent == 0
        assert [m["To"] for m in sink.messages] == ["cb0@so.gov.vn"]
    assert statuses(pg_engine) == {"sent": 1, "expired": 2}
    with db_session(pg_engine) as db:
        view = notifications.page(db, ADMIN, "expired", None)
        assert view.counts == {"sent": 1, "expired": 2}
        assert {(m.status, m.error) for m in view.messages} == {("expired", expired_reason(week))}
        assert all(m.expires_at == start + week for m in view.messages)
        with pytest.raises(KcError, match="chưa hết hạn"):
            notifications.retry(db, ADMIN, view.messages[0].id, clock[0])
    assert "sau 7 ngày chờ: thông báo đã hết hạn" in expired_reason(week)


def test_a_contact_refusal_quotes_a_typed_override_by_its_code_point(pg_engine: Engine) -> None:
    """An e-mail, phone or quiet hours pasted with U+202E: the refusal shows "[U+202E]" and
    cuts a long paste, so the message reads as written."""
    ids = people_with_email(pg_engine, 1)
    with db_session(pg_engine) as db:
        for field in ("email", "phone", "quiet"):
            with pytest.raises(KcError) as caught:
                typed: dict[str, Any] = {field: "ab\u202ecd" + "x" * 90}
                notifications.set_contact(db, employee(ids[0]), **typed)
            message = caught.value.message
            assert "\u202e" not in message and "ab[U+202E]cd" in message, message
            assert "x" * 35 + "…" in message and "x" * 36 not in message, message
