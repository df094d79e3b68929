"""Device provisioning (cấp phát thiết bị): identities, secrets, Mosquitto password and ACL files.

Each reader gets its own broker account, bound to its client id, whose ACL lets it publish
only under its own topic (kc/v1/<device_id>/#) and subscribe only to its own receipts
(kc/receipts/<device_id>), so one reader can neither speak for another nor listen to anyone
else (Mosquitto's dynamic-security plugin).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ingest.contract import DEVICE_ID_PATTERN, RECEIPT_ROOT, TOPIC_ROOT
from store.models import Agency, Device

# Mosquitto 2.x "$7$": PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte hash (mosquitto_passwd).
_MOSQ_ITERATIONS = 101
_MOSQ_SALT_LEN = 12
# Broker accounts of the server itself (kc-ingest…): no reader may take such a name.
RESERVED_PREFIX = "kc-"


class ProvisionError(ValueError):
    """A provisioning request that cannot be carried out."""


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """A broker account of the server itself (the ingest workers), not a reader."""

    username: str
    password_hash: str
    read_topic: str = f"{TOPIC_ROOT}/#"
    write_topic: str = f"{RECEIPT_ROOT}/#"


def hash_password(
    password: str, *, salt: bytes | None = None, iterations: int = _MOSQ_ITERATIONS
) -> str:
    """Hash a password the way mosquitto_passwd does, so Mosquitto can check it."""
    salt = salt if salt is not None else os.urandom(_MOSQ_SALT_LEN)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, dklen=64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    _, kind, iterations, salt_b64, digest_b64 = encoded.split("$")
    if kind != "7":
        return False
    salt = base64.b64decode(salt_b64)
    expected = hash_password(password, salt=salt, iterations=int(iterations))
    return hmac.compare_digest(expected.split("$")[-1], digest_b64)


def create_device(
    db: DbSession,
    device_id: str,
    *,
    site: str = "",
    name: str = "",
    direction: str = "both",
    agency_code: str | None = None,
    secret: str | None = None,
    registered_at: datetime | None = None,
) -> str:
    """Register a reader and return its broker password (shown once, stored only hashed).

    Punches dated before ``registered_at`` (default: now) are quarantined; give the date the
    reader was installed when its earlier records are to be accepted.
    """
    if not re.match(DEVICE_ID_PATTERN, device_id):
        raise ProvisionError(
            f"Mã thiết bị {device_id} chỉ gồm 1-64 chữ cái không dấu, chữ số, '.', '_' hoặc '-'"
        )
    if device_id.lower().startswith(RESERVED_PREFIX):
        raise ProvisionError(
            f"Mã thiết bị bắt đầu bằng {RESERVED_PREFIX} được dành riêng cho hệ thống"
        )
    if direction not in ("in", "out", "both"):
        raise ProvisionError(
            "Hướng không hợp lệ; chọn một trong: in (Vào), out (Ra), both (Vào và ra)"
        )
    if db.get(Device, device_id) is not None:
        raise ProvisionError(f"Thiết bị {device_id} đã tồn tại")
    agency_id = None
    if agency_code is not None:
        agency_id = db.scalar(select(Agency.id).where(Agency.code == agency_code))
        if agency_id is None:
            raise ProvisionError(f"Không tìm thấy cơ quan {agency_code}")
    secret = secret or secrets.token_urlsafe(24)
    db.add(
        Device(
            id=device_id,
            agency_id=agency_id,
            site=site,
            name=name or device_id,
            direction=direction,
            secret_hash=hash_password(secret),
            enabled=True,
            created_at=registered_at or datetime.now(UTC),
        )
    )
    db.flush()
    return secret


def rotate_secret(db: DbSession, device_id: str) -> str:
    device = db.get(Device, device_id)
    if device is None:
        raise ProvisionError(f"Không tìm thấy thiết bị {device_id}")
    secret = secrets.token_urlsafe(24)
    device.secret_hash = hash_password(secret)
    return secret


def set_enabled(db: DbSession, device_id: str, enabled: bool) -> None:
    device = db.get(Device, device_id)
    if device is None:
        raise ProvisionError(f"Không tìm thấy thiết bị {device_id}")
    device.enabled = enabled


def device_acls(device_id: str) -> list[dict[str, Any]]:
    """What a reader may do on the broker: publish under its own topic, read its own receipts.

    Every other subscription is refused by default (a reader in the ingest's shared group
    would take a share of everyone's punches); its receipts topic is a ``subscribeLiteral``
    entry, so no wildcard reaches another reader's receipts.
    """
    return [
        {"acltype": "publishClientSend", "topic": f"{TOPIC_ROOT}/{device_id}/#", "allow": True},
        {"acltype": "subscribeLiteral", "topic": f"{RECEIPT_ROOT}/{device_id}", "allow": True},
    ]


def service_acls(service: ServiceAccount) -> list[dict[str, Any]]:
    """The ingest workers read every reader's topic, alone or through a shared subscription,
    and write the receipts (contract v1.1)."""
    return [
        {"acltype": "subscribePattern", "topic": service.read_topic, "allow": True},
        {"acltype": "subscribePattern", "topic": f"$share/+/{service.read_topic}", "allow": True},
        {"acltype": "publishClientSend", "topic": service.write_topic, "allow": True},
    ]


def _dynsec_client(username: str, encoded: str, role: str, clientid: str | None) -> dict[str, Any]:
    _, _, iterations, salt_b64, digest_b64 = encoded.split("$")
    client: dict[str, Any] = {
        "username": username,
        "password": digest_b64,
        "salt": salt_b64,
        "iterations": int(iterations),
        "roles": [{"rolename": role}],
    }
    if clientid is not None:
        client["clientid"] = clientid
    return client


def render_broker_config(devices: Iterable[Device], services: Iterable[ServiceAccount]) -> str:
    """Mosquitto's dynamic-security configuration: accounts, client ids and ACLs.

    Every enabled reader gets an account whose client id is bound to its device id (no one
    can connect as another client, the ingest's included) and a role from ``device_acls``.
    Nobody may subscribe or publish unless a role says so.
    """
    clients, roles = [], []
    names = set()
    for service in services:
        role = f"service-{service.username}"
        names.add(service.username.lower())
        clients.append(_dynsec_client(service.username, service.password_hash, role, None))
        roles.append({"rolename": role, "acls": service_acls(service)})
    for device in devices:
        if not device.enabled:
            continue
        if device.id.lower() in names:
            raise ProvisionError(f"Mã thiết bị {device.id} trùng tên một tài khoản dịch vụ")
        role = f"device-{device.id}"
        clients.append(_dynsec_client(device.id, device.secret_hash, role, device.id))
        roles.append({"rolename": role, "acls": device_acls(device.id)})
    config = {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [],
        "roles": roles,
    }
    return json.dumps(config, indent=1, ensure_ascii=False) + "\n"


def write_broker_files(db: DbSession, config_path: Path, services: list[ServiceAccount]) -> int:
    """Write Mosquitto's dynamic-security file for every enabled device; returns the count."""
    devices = list(db.scalars(select(Device).order_by(Device.id)))
    text = render_broker_config(devices, services)
    config_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = config_path.with_suffix(config_path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.chmod(0o640)
    tmp.replace(config_path)
    return sum(1 for d in devices if d.enabled)
