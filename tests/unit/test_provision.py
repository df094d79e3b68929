"""Device provisioning: Mosquitto-compatible hashes and one ACL block per reader."""

from __future__ import annotations

import base64
import hashlib
from types import SimpleNamespace
from typing import Any, cast

from devices.provision import (
    ServiceAccount,
    hash_password,
    render_acl_file,
    render_password_file,
    verify_password,
)


def test_hash_is_mosquitto_pbkdf2_sha512_and_verifies() -> None:
    salt = b"0123456789ab"
    encoded = hash_password("bí mật", salt=salt)
    _, kind, iterations, salt_b64, digest_b64 = encoded.split("$")
    assert (kind, iterations, base64.b64decode(salt_b64)) == ("7", "101", salt)
    expected = hashlib.pbkdf2_hmac("sha512", "bí mật".encode(), salt, 101, dklen=64)
    assert base64.b64decode(digest_b64) == expected
    assert verify_password("bí mật", encoded)
    assert not verify_password("bi mat", encoded)


def test_each_enabled_device_may_write_only_its_own_topic() -> None:
    devices = cast(
        Any,
        [
            SimpleNamespace(id="D1", secret_hash="$7$h1", enabled=True),
            SimpleNamespace(id="D2", secret_hash="$7$h2", enabled=False),
        ],
    )
    services = [ServiceAccount("ingest", "$7$hs")]
    acl = render_acl_file(devices, services)
    assert "user D1\ntopic write kc/v1/D1/#" in acl
    assert "D2" not in acl
    assert "user ingest\ntopic read kc/v1/#" in acl
    assert render_password_file(devices, services) == "ingest:$7$hs\nD1:$7$h1\n"
