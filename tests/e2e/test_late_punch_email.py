"""End to end on the real Mosquitto, PostgreSQL and an SMTP server in the test process
(aiosmtpd): a late punch published over MQTT is stored by the ingest worker, judged by the
rules runner, queued in the same transaction as the violation, and the person's e-mail
arrives once with the right minutes and the link to explain."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import Engine, select, update

from ingest.mosquitto import MosquittoProcess
from kycuong.settings import Settings
from notify.sender import Sender
from notify.violations import ViolationNotices
from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from store.db import db_session
from store.models import Employee, OutboxMessage, ViolationRecord
from tests.factories import org, punch_payload
from tests.mail import body_text, smtp_server
from tests.support import start_ingest, wait_for
from tests.unit.days import local

DAY = date(2026, 11, 23)
URL = "https://kycuong.so.gov.vn"


def test_a_late_punch_over_mqtt_reaches_the_person_by_email_with_minutes_and_link(
    pg_engine: Engine, mosquitto: MosquittoProcess
) -> None:
    made = org(pg_engine, employees=2, devices=("D1",))
    with db_session(pg_engine) as db:
        db.execute(update(Employee).where(Employee.code == "E0000").values(email="a@so.gov.vn"))
    now = [local(DAY, "07:58").astimezone(UTC)]

    def clock() -> datetime:
        return now[0]

    with smtp_server() as sink:
        settings = Settings(
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
            smtp_starttls=False,
            public_url=URL,
            notify_quiet_hours="",
            notify_poll_s=0.05,
            notify_hold_minutes=0,
        )
        rules = RecomputeWorker(
            pg_engine,
            RulesDirectory(max_age_s=0),
            clock=clock,
            idle_s=0.05,
            notices=ViolationNotices.from_settings(settings),
        )
        sender = Sender.from_settings(pg_engine, settings, clock=clock)
        ingest = start_ingest(pg_engine, mosquitto.port)
        rules.start()
        sender.start()
        try:
            publisher = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=f"D1-{uuid.uuid4().hex[:6]}",
                protocol=MQTTProtocolVersion.MQTTv311,
            )
            publisher.connect("127.0.0.1", mosquitto.port)
            publisher.loop_start()
            for card, hhmm in ((made["cards"][0], "07:49"), (made["cards"][1], "07:28")):
                body = punch_payload("D1", f"ev-{card}", card, local(DAY, hhmm))
                publisher.publish("kc/v1/D1/punch", body, qos=1).wait_for_publish(10)
            publisher.loop_stop()
            publisher.disconnect()
            wait_for(lambda: len(sink.messages) >= 1, 30, "the person's e-mail")
            wait_for(lambda: _statuses(pg_engine) == ["sent"], 10, "the message marked sent")
        finally:
            sender.stop()
            rules.stop()
            ingest.stop()
    with db_session(pg_engine) as db:
        violation = db.scalars(select(ViolationRecord)).one()
    [mail] = sink.messages  # one message: the person on time got none
    assert mail["To"] == "a@so.gov.vn"
    assert mail["Subject"] == "[Sở Thử nghiệm] Đi muộn ngày 23/11/2026 (19 phút)"
    text = body_text(mail)
    assert "Đi muộn 19 phút, buổi sáng ngày 23/11/2026" in text
    assert "07:49 tại Cổng" in text
    assert f"{URL}/cua-toi/giai-trinh/{violation.id}" in text


def _statuses(engine: Engine) -> list[str]:
    with db_session(engine) as db:
        return list(db.scalars(select(OutboxMessage.status)))
