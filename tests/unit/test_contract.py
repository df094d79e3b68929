"""The MQTT contract v1: every kind of bad message gets its own reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ingest.contract import HeartbeatV1, PunchV1, StatusV1, parse_topic, subscription, topic_for
from ingest.pipeline import Message, Rejection, decode
from tests.factories import punch_payload

NOW = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)


def msg(topic: str, payload: bytes) -> Message:
    return Message(topic=topic, payload=payload, received_at=NOW)


def test_valid_punch_decodes_with_its_offset_kept() -> None:
    result = decode(
        msg(
            "kc/v1/D1/punch",
            punch_payload("D1", "e1", "C1", datetime.fromisoformat("2026-11-24T07:31:00+07:00")),
        )
    )
    assert isinstance(result, PunchV1)
    assert result.ts == datetime(2026, 11, 24, 0, 31, tzinfo=UTC)
    assert result.direction == "in"


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    body = punch_payload("D1", "e1", "C1", NOW, firmware="3.2")
    assert isinstance(decode(msg("kc/v1/D1/punch", body)), PunchV1)


@pytest.mark.parametrize(
    ("topic", "payload", "code"),
    [
        ("kc/v1/D1/punch", b"{not json", "malformed_json"),
        ("kc/v1/D1/punch", b"\xff\xfe", "malformed_json"),
        ("kc/v1/D1/punch", b"[]", "schema"),
        ("kc/v1/D1/punch", punch_payload("D1", "e1", None, NOW), "schema"),
        (
            "kc/v1/D1/punch",
            punch_payload("D1", "e1", "C1", NOW, ts="2026-11-24T07:30:00"),
            "schema",
        ),
        ("kc/v1/D1/punch", punch_payload("D1", "e1", "C1", NOW, v=2), "schema"),
        ("kc/v1/D1/punch", punch_payload("D1", "e 1", "C1", NOW), "schema"),
        ("kc/v1/D1/punch", punch_payload("D1", "e1", "C1", NOW, direction="sideways"), "schema"),
        ("kc/v1/D1/punch", punch_payload("D1", "e1", "C1", NOW, credential_kind="iris"), "schema"),
        ("kc/v1/D1/punch", punch_payload("D2", "e1", "C1", NOW), "device_mismatch"),
        ("kc/v1/bad$id/punch", punch_payload("D1", "e1", "C1", NOW), "unknown_topic"),
        ("kc/v1/D1/other", punch_payload("D1", "e1", "C1", NOW), "unknown_topic"),
        ("kc/v1/D1/heartbeat", json.dumps({"v": 1, "device_id": "D1"}).encode(), "schema"),
        (
            "kc/v1/D1/status",
            json.dumps({"v": 1, "device_id": "D1", "state": "sleepy"}).encode(),
            "schema",
        ),
    ],
)
def test_bad_messages_are_rejected_with_a_stable_code(
    topic: str, payload: bytes, code: str
) -> None:
    result = decode(msg(topic, payload))
    assert isinstance(result, Rejection)
    assert result.code == code
    assert result.reason


def test_heartbeat_and_status_decode() -> None:
    hb = decode(
        msg(
            "kc/v1/D1/heartbeat",
            json.dumps(
                {"v": 1, "device_id": "D1", "clock": NOW.isoformat(), "backlog": 3}
            ).encode(),
        )
    )
    assert isinstance(hb, HeartbeatV1) and hb.backlog == 3
    st = decode(
        msg("kc/v1/D1/status", json.dumps({"v": 1, "device_id": "D1", "state": "offline"}).encode())
    )
    assert isinstance(st, StatusV1) and st.state == "offline"


def test_topics_round_trip_and_shared_subscription() -> None:
    assert parse_topic(topic_for("SNV-CONG-1", "punch")) == ("SNV-CONG-1", "punch")
    assert parse_topic("kc/v1/a/b/punch") is None
    assert subscription() == "kc/v1/+/+"
    assert subscription("ingest") == "$share/ingest/kc/v1/+/+"


def test_a_dead_letters_reason_is_vietnamese_without_pydantics_english() -> None:
    """The "Tin bị từ chối" page showed "(Invalid JSON: EOF while parsing a value …)"."""
    cut = decode(msg("kc/v1/D1/punch", b'{"device_id": "D1", "event_id":'))
    assert isinstance(cut, Rejection)
    assert cut.reason == "dữ liệu không phải JSON hợp lệ (lỗi ở dòng 1, cột 31)"
    wrong = decode(msg("kc/v1/D1/punch", b'{"v": 1, "device_id": "D1", "direction": "sideways"}'))
    assert isinstance(wrong, Rejection) and wrong.code == "schema"
    assert "thiếu khóa 'event_id'" in wrong.reason
    assert "'direction': giá trị \"sideways\" không hợp lệ; chấp nhận một trong: in" in wrong.reason
    for english in ("Field required", "Input should", "Invalid JSON", "EOF"):
        assert english not in cut.reason + wrong.reason
