"""Notifications: what the outbox costs the runner's transaction, and how fast it drains.

    python -m bench notify [--people 2000] [--messages 2000]

On its own PostgreSQL database with a real SMTP server in this process (aiosmtpd):
1. the violation notices the runner adds to its transaction: ``ViolationNotices.record`` for
   ``--people`` new violations, then again (all already queued: nothing written), as time per
   violation beside the runner's own cost per key (README: 5,400–7,300 keys/s);
2. the sender: ``--messages`` e-mails drained by one sender, then by two at once (messages/s,
   and every Message-ID received exactly once).
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from typing import Any


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench notify")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args(argv)

    from aiosmtpd.controller import Controller
    from sqlalchemy import insert, select, update

    from bench.seeding import bench_database
    from ingest.mosquitto import free_port
    from notify.channels import EmailChannel, SmtpConfig
    from notify.sender import Sender, SenderConfig
    from notify.violations import ViolationNotices
    from services.notifications import enqueue
    from store.db import db_session, make_engine
    from store.models import Agency, Employee, OutboxMessage, Unit, ViolationRecord

    database = ExitStack()  # the benchmark's own database, dropped at the end
    url = database.enter_context(bench_database())
    engine = make_engine(url)
    try:
        now = datetime.now(UTC)
        day = date.today()
        with db_session(engine) as db:
            agency = Agency(code="BENCH", name="Sở Thử nghiệm")
            db.add(agency)
            db.flush()
            unit = Unit(agency_id=agency.id, code="U", name="Phòng")
            db.add(unit)
            db.flush()
            db.execute(
                insert(Employee),
                [
                    {
                        "code": f"E{i:06d}",
                        "full_name": f"Nguyễn Văn {i}",
                        "unit_id": unit.id,
                        "active_from": date(2024, 1, 1),
                        "email": f"e{i}@bench.gov.vn",
                    }
                    for i in range(args.people)
                ],
            )
            people = list(db.scalars(select(Employee.id)))
            db.execute(
                insert(ViolationRecord),
                [
                    {
                        "employee_id": e,
                        "unit_id": unit.id,
                        "day": day,
                        "session": "morning",
                        "kind": "late",
                        "minutes": 12,
                        "evidence": "[]",
                        "provisional": False,
                        "active": True,
                        "detected_at": now,
                        "updated_at": now,
                    }
                    for e in people
                ],
            )
        identities = [(e, day, "morning", "late") for e in people]
        notices = ViolationNotices(hold=timedelta(0))
        for label in ("new", "already queued"):
            started = time.perf_counter()
            with db_session(engine) as db:
                notices.record(db, identities, [], now)
            elapsed = time.perf_counter() - started
            print(
                f"notices in the runner's transaction, {len(identities)} violations ({label}): "
                f"{elapsed * 1000:.0f} ms, {elapsed / len(identities) * 1e6:.0f} µs each"
            )
        with db_session(engine) as db:
            db.execute(update(OutboxMessage).values(status="cancelled"))

        received: list[str] = []

        class Sink:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                for line in envelope.content.split(b"\r\n"):
                    if line.lower().startswith(b"message-id:"):
                        received.append(line.decode())
                return "250 OK"

        port = free_port()
        controller = Controller(Sink(), hostname="127.0.0.1", port=port)
        controller.start()
        try:
            for senders in (1, 2):
                received.clear()
                with db_session(engine) as db:
                    for i in range(args.messages):
                        enqueue(
                            db,
                            kind="plain",
                            recipient=f"employee:{people[i % len(people)]}",
                            dedupe_key=f"bench:{senders}:{i}",
                            template="plain",
                            context={"title": "Thử", "body": "Nội dung thử.", "link": ""},
                            now=now,
                        )
                pool = [
                    Sender(
                        engine,
                        {"email": EmailChannel(SmtpConfig("127.0.0.1", port, starttls=False))},
                        SenderConfig(quiet=None, batch=50, poll_s=0.05),
                    )
                    for _ in range(senders)
                ]
                started = time.perf_counter()
                for sender in pool:
                    sender.start()
                while len(received) < args.messages and time.perf_counter() - started < 600:
                    time.sleep(0.05)
                elapsed = time.perf_counter() - started
                for sender in pool:
                    sender.stop()
                print(
                    f"sender ×{senders}: {len(received)} e-mails in {elapsed:.1f} s, "
                    f"{len(received) / elapsed:.0f}/s; distinct Message-IDs {len(set(received))}"
                )
        finally:
            controller.stop()
    finally:
        engine.dispose()
        database.close()
    return 0
