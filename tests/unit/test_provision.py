"""Device provisioning: Mosquitto-compatible hashes and one dynamic-security role per reader."""

from __future__ import annotations

import base64
import hashlib
import json
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import Engine

from devices.provision import (
    ProvisionError,
    ServiceAccount,
    create_device,
    hash_password,
    render_broker_config,
    verify_password,
)
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
        {"acltype": "publishClientSend", "topic": "kc/v1/D1/#", "allow": True},
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
