"""Device provisioning: Mosquitto-compatible hashes and one dynamic-security role per reader."""

from __future__ import annotations

import base64
import hashlib
import json
from types import SimpleNamespace
from typing import Any, cast

import bcrypt
import pytest
from sqlalchemy import Engine

from devices.provision import (
    ProvisionError,
    ServiceAccount,
    create_device,
    hash_password,
    hash_secret,
    mosquitto_hash,
    nats_hash,
    nats_subject,
    render_broker_config,
    render_nats_accounts,
    verify_password,
)
from kycuong.settings import get_settings
from store.db import db_session


def test_hash_is_mosquitto_pbkdf2_sha512_and_verifies() -> None:
    salt = b"0123456789ab"
    encoded = hash_password("bí mật", salt=salt)
    _, kind, iterations, salt_b64, digest_b64 = encoded.split("$")
    assert (kind, iterations, base64.b64decode(salt_b64)) == ("7", "101", salt)
    expected = hashlib.pbkdf2_hmac("sha512", "bí mật".encode(), salt, 101, dklen=64)
    assert base64.b64decode(digest_b64) == expected
    assert verify_password("bí mật", encoded)
    assert not verify_password("bi mat", encoded)


def test_each_enabled_device_may_write_only_its_own_topic_and_read_its_receipts() -> None:
    devices = cast(
        Any,
        [
            SimpleNamespace(id="D1", secret_hash="$7$101$c2FsdA==$aDE=", enabled=True),
            SimpleNamespace(id="D2", secret_hash="$7$101$c2FsdA==$aDI=", enabled=False),
        ],
    )
    services = [ServiceAccount("kc-ingest", "$7$101$c2FsdA==$aHM=")]
    config = json.loads(render_broker_config(devices, services))
    assert config["defaultACLAccess"]["subscribe"] is False
    assert config["defaultACLAccess"]["publishClientSend"] is False
    clients = {c["username"]: c for c in config["clients"]}
    assert set(clients) == {"kc-ingest", "D1"}
    assert clients["D1"]["clientid"] == "D1"
    assert "clientid" not in clients["kc-ingest"]
    assert (clients["D1"]["salt"], clients["D1"]["password"]) == ("c2FsdA==", "aDE=")
    roles = {r["rolename"]: r["acls"] for r in config["roles"]}
    assert roles["device-D1"] == [
        # The contract's three topics, not kc/v1/D1/#: no retained messages on invented ones.
        {"acltype": "publishClientSend", "topic": "kc/v1/D1/punch", "allow": True},
        {"acltype": "publishClientSend", "topic": "kc/v1/D1/heartbeat", "allow": True},
        {"acltype": "publishClientSend", "topic": "kc/v1/D1/status", "allow": True},
        {"acltype": "subscribeLiteral", "topic": "kc/receipts/D1", "allow": True},
    ]
    assert {(a["acltype"], a["topic"]) for a in roles["service-kc-ingest"]} == {
        ("subscribePattern", "kc/v1/#"),
        ("subscribePattern", "$share/+/kc/v1/#"),
        ("publishClientSend", "kc/receipts/#"),
    }


def test_device_ids_of_the_service_namespace_are_refused(sqlite_engine: Engine) -> None:
    with db_session(sqlite_engine) as db, pytest.raises(ProvisionError):
        create_device(db, "KC-Ingest")


def test_a_secret_is_kept_as_one_hash_per_broker_and_mosquitto_reads_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the real accounts' cost, not the suite's cheap profile (tests/conftest.py)
    monkeypatch.setenv("KC_PASSWORD_HASH_PROFILE", "rfc9106_low_memory")
    get_settings.cache_clear()
    try:
        stored = hash_secret("bí mật")
    finally:
        get_settings.cache_clear()
    assert mosquitto_hash(stored).startswith("$7$") and " " not in mosquitto_hash(stored)
    bcrypt_hash = nats_hash(stored)
    assert bcrypt_hash is not None and bcrypt_hash.startswith("$2a$10$")
    assert bcrypt.checkpw("bí mật".encode(), bcrypt_hash.encode())
    assert verify_password("bí mật", stored) and not verify_password("bi mat", stored)
    assert len(stored) <= 255  # the registry's column
    assert nats_hash(mosquitto_hash(stored)) is None  # a reader provisioned before NATS hashes


def test_mqtt_topics_map_to_nats_subjects_as_nats_server_does() -> None:
    assert nats_subject("kc/v1/D1/#") == "kc.v1.D1.>"
    assert nats_subject("kc/v1/+/+") == "kc.v1.*.*"
    assert nats_subject("kc/receipts/D1") == "kc.receipts.D1"


def nats_accounts(text: str) -> dict[str, Any]:
    """The accounts file is JSON after its comment lines and ``accounts:``."""
    body = "".join(line for line in text.splitlines() if not line.startswith("#"))
    assert body.startswith("accounts: ")
    return cast(dict[str, Any], json.loads(body.removeprefix("accounts: ")))


def test_nats_users_may_write_only_their_own_topic_and_read_their_receipts() -> None:
    d1 = hash_secret("s1")
    devices = cast(
        Any,
        [
            SimpleNamespace(id="D1", secret_hash=d1, enabled=True),
            SimpleNamespace(id="D2", secret_hash=hash_secret("s2"), enabled=False),
            SimpleNamespace(id="OLD", secret_hash=mosquitto_hash(d1), enabled=True),
            SimpleNamespace(id="a.b", secret_hash=hash_secret("s3"), enabled=True),
        ],
    )
    services = [ServiceAccount("kc-ingest", "$2a$10$" + "x" * 53)]
    text, skipped = render_nats_accounts(devices, services)
    assert set(skipped) == {"OLD", "a.b"}  # no bcrypt hash yet; '.' refused by NATS 2.9
    assert "rotate" in skipped["OLD"]
    account = nats_accounts(text)["KC"]
    assert account["jetstream"] == "enabled"
    users = {u["user"]: u for u in account["users"]}
    assert set(users) == {"kc-ingest", "D1"}  # disabled and skipped readers get no user
    assert users["D1"]["password"] == nats_hash(d1)
    assert all(u["allowed_connection_types"] == ["MQTT"] for u in users.values())
    assert users["D1"]["permissions"] == {
        "publish": {"allow": ["kc.v1.D1.punch", "kc.v1.D1.heartbeat", "kc.v1.D1.status"]},
        "subscribe": {"allow": ["kc.receipts.D1", "$MQTT.sub.>"]},
    }
    assert users["kc-ingest"]["permissions"] == {
        "publish": {"allow": ["kc.receipts.>"]},
        "subscribe": {"allow": ["kc.v1.>", "$MQTT.sub.>"]},
    }


def test_nats_accounts_refuse_a_service_without_bcrypt_or_a_reader_named_like_it() -> None:
    with pytest.raises(ProvisionError):
        render_nats_accounts([], [ServiceAccount("kc-ingest", hash_password("x"))])
    reader = cast(Any, SimpleNamespace(id="KC-INGEST", secret_hash=hash_secret("s"), enabled=True))
    with pytest.raises(ProvisionError):
        render_nats_accounts([reader], [ServiceAccount("kc-ingest", "$2a$10$" + "x" * 53)])
