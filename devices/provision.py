"""Device provisioning (cấp phát thiết bị): identities, secrets, the brokers' account files.

Each reader gets its own broker account whose permissions let it publish only the contract's
three topics under its own id (kc/v1/<device_id>/punch, heartbeat, status) and subscribe only
to its own receipts (kc/receipts/<device_id>), so one reader can neither speak for another nor
listen to anyone else: Mosquitto's
dynamic-security plugin (its client id bound to its device id too) for one office, the NATS
cluster's accounts file (``render_nats_accounts``) for the clustered tier.

A secret is stored only hashed, once per broker: Mosquitto's PBKDF2 ``$7$`` hash, then a space
and the bcrypt ``$2a$`` hash NATS checks (``hash_secret``). A reader provisioned before the
NATS hash existed has only the first; ``kycuong devices rotate`` gives it both.
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

import bcrypt
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ingest.contract import (
    DEVICE_ID_PATTERN,
    MESSAGE_KINDS,
    RECEIPT_ROOT,
    TOPIC_ROOT,
    topic_for,
)
from store.models import Agency, Device

# Mosquitto 2.x "$7$": PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte hash (mosquitto_passwd).
_MOSQ_ITERATIONS = 101
_MOSQ_SALT_LEN = 12
# bcrypt's cost for the NATS hash: Go's default. Secrets are 192 random bits, so the cost guards
# nothing a guess could find; it is paid by the broker at every CONNECT (≈ 0.1 s on 2 cores).
_NATS_BCRYPT_COST = 10
# The NATS account every reader and the ingest belong to (deploy/nats/auth/accounts.conf).
NATS_ACCOUNT = "KC"
# Broker accounts of the server itself (kc-ingest…) and the ingest's client ids
# (kycuong-ingest-1, kycuong-ingest-{hostname}): a reader's client id is its device id, so a
# reader with such a name could take over the ingest's session and its queued punches.
RESERVED_PREFIXES = ("kc-", "kycuong-")


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


def nats_hash_password(password: str) -> str:
    """Hash a password as bcrypt ``$2a$`` (the prefix every nats-server accepts)."""
    from kycuong.settings import get_settings

    # The test suite's cheap profile (tests/conftest.py) takes bcrypt's minimum cost, 4.
    cheap = get_settings().password_hash_profile == "cheapest"
    salt = bcrypt.gensalt(rounds=4 if cheap else _NATS_BCRYPT_COST, prefix=b"2a")
    return bcrypt.hashpw(password.encode(), salt).decode()


def hash_secret(secret: str) -> str:
    """What the device registry keeps of a reader's secret: one hash per broker kind."""
    return f"{hash_password(secret)} {nats_hash_password(secret)}"


def mosquitto_hash(stored: str) -> str:
    """The Mosquitto (``$7$``) part of a stored secret hash."""
    return stored.split(" ", 1)[0]


def nats_hash(stored: str) -> str | None:
    """The bcrypt part of a stored secret hash; None for a reader provisioned before it."""
    parts = stored.split(" ")
    return parts[1] if len(parts) > 1 and parts[1].startswith("$2") else None


def verify_password(password: str, encoded: str) -> bool:
    _, kind, iterations, salt_b64, digest_b64 = mosquitto_hash(encoded).split("$")
    if kind != "7":
        return False
    salt = base64.b64decode(salt_b64)
    expected = hash_password(password, salt=salt, iterations=int(iterations))
    return hmac.compare_digest(expected.split("$")[-1], digest_b64)


def _refuse_reserved(device_id: str) -> None:
    for prefix in RESERVED_PREFIXES:
        if device_id.lower().startswith(prefix):
            raise ProvisionError(
                f"Mã thiết bị {device_id}: tiền tố {prefix} được dành riêng cho hệ thống"
            )


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
    _refuse_reserved(device_id)
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
            secret_hash=hash_secret(secret),
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
    device.secret_hash = hash_secret(secret)
    return secret


def set_enabled(db: DbSession, device_id: str, enabled: bool) -> None:
    device = db.get(Device, device_id)
    if device is None:
        raise ProvisionError(f"Không tìm thấy thiết bị {device_id}")
    device.enabled = enabled


def device_topics(device_id: str) -> list[str]:
    """The topics a reader may publish on: the contract's three under its own id, no other.

    Not ``kc/v1/<id>/#``: every topic a reader invents there keeps a retained message (up to
    64 KB) on the broker for ever, out of the ingest's sight.
    """
    return [topic_for(device_id, kind) for kind in MESSAGE_KINDS]


def device_acls(device_id: str) -> list[dict[str, Any]]:
    """What a reader may do on the broker: publish its own messages, read its own receipts.

    Every other subscription is refused by default (a reader in the ingest's shared group
    would take a share of everyone's punches); its receipts topic is a ``subscribeLiteral``
    entry, so no wildcard reaches another reader's receipts.
    """
    publish = [
        {"acltype": "publishClientSend", "topic": topic, "allow": True}
        for topic in device_topics(device_id)
    ]
    return [
        *publish,
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
    _, _, iterations, salt_b64, digest_b64 = mosquitto_hash(encoded).split("$")
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
        _refuse_reserved(device.id)  # one registered before the rule: no account for it
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
    _write_private(config_path, render_broker_config(devices, services))
    return sum(1 for d in devices if d.enabled)


# QoS 1 subscriptions are JetStream consumers that deliver on ``$MQTT.sub.<id>``: nats-server
# 2.9 checks the subscriber's permissions on that internal subject too. MQTT clients cannot
# subscribe to ``$MQTT/...`` themselves, and the accounts may connect over MQTT only, so no
# reader reaches another's deliveries through it.
NATS_MQTT_DELIVERY = "$MQTT.sub.>"


def nats_subject(topic: str) -> str:
    """The NATS subject of an MQTT topic or filter, as nats-server's MQTT listener maps it:
    '/' separates levels with '.', '+' is '*' and '#' is '>' (kc/v1/D1/# → kc.v1.D1.>)."""
    return ".".join(
        "*" if level == "+" else ">" if level == "#" else level for level in topic.split("/")
    )


def device_nats_permissions(device_id: str) -> dict[str, Any]:
    """``device_acls`` for NATS: publish its own messages, subscribe to its own receipts."""
    return {
        "publish": {"allow": [nats_subject(topic) for topic in device_topics(device_id)]},
        "subscribe": {"allow": [nats_subject(f"{RECEIPT_ROOT}/{device_id}"), NATS_MQTT_DELIVERY]},
    }


def service_nats_permissions(service: ServiceAccount) -> dict[str, Any]:
    """``service_acls`` for NATS: read every reader's topic, write the receipts."""
    return {
        "publish": {"allow": [nats_subject(service.write_topic)]},
        "subscribe": {"allow": [nats_subject(service.read_topic), NATS_MQTT_DELIVERY]},
    }


def _nats_user(username: str, bcrypt_hash: str, permissions: dict[str, Any]) -> dict[str, Any]:
    return {
        "user": username,
        "password": bcrypt_hash,
        # MQTT only: a NATS client connection could subscribe to the internal deliveries.
        "allowed_connection_types": ["MQTT"],
        "permissions": permissions,
    }


def render_nats_accounts(
    devices: Iterable[Device], services: Iterable[ServiceAccount]
) -> tuple[str, dict[str, str]]:
    """The NATS cluster's accounts file (included by deploy/nats/nats.conf) and the readers
    left out of it, with the reason.

    One account (JetStream on: MQTT sessions and messages live in it) holding the ingest's
    user and one user per enabled reader, each with a bcrypt password and the permissions
    above; anonymous connections are refused. Left out: a disabled reader, one provisioned
    before NATS hashes were kept (rotate its password), and an id with '.', which NATS 2.9
    refuses in an MQTT topic.
    """
    users, skipped = [], {}
    names = set()
    for service in services:
        if not service.password_hash.startswith("$2"):
            raise ProvisionError(f"Tài khoản dịch vụ {service.username} cần mật khẩu bcrypt")
        names.add(service.username.lower())
        users.append(
            _nats_user(service.username, service.password_hash, service_nats_permissions(service))
        )
    for device in devices:
        if not device.enabled:
            continue
        if device.id.lower() in names:
            raise ProvisionError(f"Mã thiết bị {device.id} trùng tên một tài khoản dịch vụ")
        bcrypt_hash = nats_hash(device.secret_hash)
        if "." in device.id:
            skipped[device.id] = "mã có dấu chấm, NATS không nhận trong chủ đề MQTT"
        elif bcrypt_hash is None:
            skipped[device.id] = (
                "chưa có mật khẩu dạng bcrypt; chạy kycuong devices rotate rồi cài mật khẩu mới"
            )
        else:
            users.append(_nats_user(device.id, bcrypt_hash, device_nats_permissions(device.id)))
    accounts = {NATS_ACCOUNT: {"jetstream": "enabled", "users": users}}
    text = (
        "# Written by `kycuong devices broker-files --broker nats` from the device registry;\n"
        "# do not edit. Apply with `nats-server --signal reload` on every node.\n"
        f"accounts: {json.dumps(accounts, indent=1, ensure_ascii=False)}\n"
    )
    return text, skipped


@dataclass(frozen=True, slots=True)
class ClientIdMisuse:
    """An MQTT connection on a NATS node whose client id is not its reader's own."""

    node: str
    user: str
    client_id: str
    address: str


def nats_client_id_misuse(
    monitor_urls: Iterable[str], timeout: float = 5.0
) -> tuple[int, list[ClientIdMisuse]]:
    """The MQTT connections, on every node given by its monitoring address, of a reader that
    signed in with its password but under another client id; and how many MQTT connections
    were looked at.

    NATS binds no client id to a user (2.9, and 2.15 alike): a reader's password may connect
    as ``D2`` and so disconnect reader D2 (it reads nothing of D2's: permissions follow the
    user). The nodes' ``/connz?auth=true`` names both, so an operator can see who does it and
    lock that reader. Service accounts (``kc-…``) choose their client ids freely.
    """
    import httpx

    found: list[ClientIdMisuse] = []
    looked = 0
    for url in monitor_urls:
        varz = httpx.get(f"{url.rstrip('/')}/varz", timeout=timeout)
        varz.raise_for_status()
        node = str(varz.json().get("server_name") or url)
        offset = 0
        while True:
            page = httpx.get(
                f"{url.rstrip('/')}/connz",
                params={"auth": "true", "limit": 1024, "offset": offset},
                timeout=timeout,
            )
            page.raise_for_status()
            data = page.json()
            connections = data.get("connections") or []
            for conn in connections:
                client_id = conn.get("mqtt_client")
                if client_id is None:
                    continue
                looked += 1
                user = str(conn.get("authorized_user") or "")
                if client_id != user and not user.lower().startswith(RESERVED_PREFIXES):
                    found.append(
                        ClientIdMisuse(
                            node,
                            user,
                            str(client_id),
                            f"{conn.get('ip')}:{conn.get('port')}",
                        )
                    )
            offset += len(connections)
            if not connections or offset >= int(data.get("total") or 0):
                break
    return looked, found


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.chmod(0o640)
    tmp.replace(path)


def write_nats_files(
    db: DbSession, config_path: Path, services: list[ServiceAccount]
) -> tuple[int, dict[str, str]]:
    """Write the NATS accounts file; returns the readers written and those left out (why)."""
    devices = list(db.scalars(select(Device).order_by(Device.id)))
    text, skipped = render_nats_accounts(devices, services)
    _write_private(config_path, text)
    return sum(1 for d in devices if d.enabled) - len(skipped), skipped
