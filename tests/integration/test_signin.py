"""Sign-in protection (services.signin) on PostgreSQL: guessing locks, the lock lifts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from services.signin import Policy, Throttled, locks, sign_in, unlock
from store.db import db_session
from store.users import create_user

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
RIGHT = "mat-khau-dung-1"


@pytest.fixture
def head(pg_engine: Engine) -> Engine:
    with db_session(pg_engine) as db:
        create_user(db, "truongphong", RIGHT, "admin")
        create_user(db, "ketoan", RIGHT, "admin")
    return pg_engine


def test_the_eleventh_wrong_password_is_locked_out_even_with_the_right_one(head: Engine) -> None:
    for i in range(10):
        at = NOW + timedelta(seconds=i)
        assert sign_in(head, "truongphong", "doan-bua", "10.0.0.7", at) is None
    with pytest.raises(Throttled) as locked:
        sign_in(head, "truongphong", "doan-bua", "10.0.0.7", NOW + timedelta(seconds=11))
    assert "quá nhiều lần" in locked.value.message and locked.value.retry_after_s > 0
    with pytest.raises(Throttled):
        sign_in(head, "truongphong", RIGHT, "10.0.0.8", NOW + timedelta(seconds=12))
    # Another account is not locked by this one's failures.
    assert sign_in(head, "ketoan", RIGHT, "10.0.0.9", NOW + timedelta(seconds=13)) is not None
    after = NOW + timedelta(minutes=6)
    user = sign_in(head, "truongphong", RIGHT, "10.0.0.7", after)
    assert user is not None and user.username == "truongphong"


def test_lockouts_grow_and_an_admin_can_lift_one(head: Engine) -> None:
    policy = Policy(account_failures=3)
    at = NOW
    for _round in range(2):
        for _ in range(3):
            assert sign_in(head, "truongphong", "sai", None, at, policy) is None
        (row,) = locks(head)
        assert row.locked_until is not None
        lasted = row.locked_until - at
        at = row.locked_until + timedelta(seconds=1)
    assert lasted == timedelta(minutes=10)  # the second lockout is twice the first
    for _ in range(3):
        sign_in(head, "truongphong", "sai", None, at, policy)
    with pytest.raises(Throttled):
        sign_in(head, "truongphong", RIGHT, None, at, policy)
    assert unlock(head, "user:truongphong")
    assert sign_in(head, "truongphong", RIGHT, None, at, policy) is not None


def test_one_address_guessing_many_accounts_is_locked(head: Engine) -> None:
    policy = Policy(address_failures=20)
    for i in range(20):
        sign_in(head, f"nguoi{i}", "sai", "203.0.113.5", NOW, policy)
    with pytest.raises(Throttled):
        sign_in(head, "ketoan", RIGHT, "203.0.113.5", NOW, policy)
    assert sign_in(head, "ketoan", RIGHT, "10.0.0.9", NOW, policy) is not None
