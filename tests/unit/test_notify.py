"""The pure parts of notifications: quiet hours, backoff, the webhook's signature, links."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notify import links
from notify.channels import signature
from notify.quiet import QuietHours
from notify.sender import SenderConfig
from rules.zones import zone

TZ = zone("Asia/Ho_Chi_Minh")
NIGHT = QuietHours(time(21, 0), time(6, 30))


def at(day: int, hhmm: str) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, 11, day, h, m, tzinfo=TZ)


def test_a_message_due_at_night_waits_for_the_morning_and_one_by_day_goes_at_once() -> None:
    assert NIGHT.release(at(23, "22:15"), TZ) == at(24, "06:30")
    assert NIGHT.release(at(24, "02:00"), TZ) == at(24, "06:30")
    assert NIGHT.release(at(24, "06:30"), TZ) is None
    assert NIGHT.release(at(24, "12:00"), TZ) is None
    assert NIGHT.release(at(24, "21:00"), TZ) == at(25, "06:30")


def test_quiet_hours_within_a_day_and_parsing() -> None:
    lunch = QuietHours.parse("11:30-13:00")
    assert lunch is not None and lunch.release(at(24, "12:00"), TZ) == at(24, "13:00")
    assert QuietHours.parse("") is None and QuietHours.parse("07:00-07:00") is None
    assert str(QuietHours.parse(" 21:00 - 06:30 ")) == "21:00-06:30"
    with pytest.raises(ValueError):
        QuietHours.parse("tối")


@given(
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
    st.times(),
    st.times(),
)
def test_a_release_is_later_and_outside_the_quiet_hours(
    instant: datetime, start: time, end: time
) -> None:
    if start == end:
        return
    quiet = QuietHours(start.replace(microsecond=0), end.replace(microsecond=0))
    release = quiet.release(instant, TZ)
    if release is None:
        assert not quiet.contains(instant.astimezone(TZ).time().replace(tzinfo=None))
    else:
        assert release > instant
        assert release - instant <= timedelta(days=1)
        assert not quiet.contains(release.astimezone(TZ).time().replace(tzinfo=None))


def test_retries_wait_longer_each_time_up_to_a_ceiling() -> None:
    config = SenderConfig(backoff_s=30, backoff_max_s=600)
    assert [config.backoff(n).total_seconds() for n in range(1, 7)] == [
        30,
        60,
        120,
        240,
        480,
        600,
    ]


def test_the_webhook_signature_covers_the_timestamp_and_the_body() -> None:
    body = '{"text": "Đi muộn 19 phút"}'.encode()
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("k", "1700000000", body) == f"sha256={expected}"
    assert signature("k", "1700000001", body) != signature("k", "1700000000", body)


def test_links_are_built_in_one_place_from_the_public_address() -> None:
    assert (
        links.person_violation("https://kc.gov.vn/", 42)
        == "https://kc.gov.vn/cua-toi/giai-trinh/42"
    )
    assert links.head_queue("https://kc.gov.vn") == "https://kc.gov.vn/vi-pham"


def test_a_decided_request_renders_for_the_person_in_vietnamese() -> None:
    from types import SimpleNamespace
    from typing import Any, cast

    from notify.recipients import Contact
    from notify.render import render

    message = SimpleNamespace(
        template="request_decided",
        subject=None,
        context='{"title": "Giải trình đi muộn 23/11/2026", "decision": "Chấp thuận", '
        '"decided_by": "Trưởng phòng", "note": "Có giấy mời họp", '
        '"link": "https://kc.gov.vn/cua-toi/de-nghi/7"}',
    )
    who = Contact("employee:1", "Nguyễn Thị Hương", None, None, "Sở Nội vụ", None, None)
    out = render(cast(Any, None), cast(Any, message), who, "https://kc.gov.vn", "")
    assert out.subject == "[Sở Nội vụ] Giải trình đi muộn 23/11/2026: Chấp thuận"
    assert "Kính gửi Nguyễn Thị Hương," in out.text and "Ý kiến: Có giấy mời họp" in out.text
    assert '<a href="https://kc.gov.vn/cua-toi/de-nghi/7">' in out.html
