"""Channels (kênh gửi): e-mail over SMTP (Python's EmailMessage and smtplib) and a webhook,
a JSON POST signed with HMAC-SHA256 that an agency points at its Zalo OA or chat gateway.

A failure is a ``SendError`` with a Vietnamese reason for the operator; ``permanent`` ones
are not retried (an address the server refuses, no address at all).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Protocol

import httpx

from notify.recipients import Contact
from notify.render import Rendered
from store.outbox import Attachment


class SendError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send: its stable id (the same on every attempt), content and files."""

    message_id: int
    dedupe_key: str
    kind: str
    rendered: Rendered
    attachments: tuple[Attachment, ...] = ()


class Channel(Protocol):
    name: str

    def address(self, contact: Contact) -> str | None: ...

    def send(self, outgoing: Outgoing, contact: Contact) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str | None
    port: int = 587
    starttls: bool = True
    use_ssl: bool = False
    user: str | None = None
    password: str | None = None
    sender: str = "Kỷ Cương <ky-cuong@localhost>"
    timeout_s: float = 30.0


def message_id_header(outgoing: Outgoing, sender: str) -> str:
    """The same Message-ID on every attempt: a gateway or a mail client that sees a message
    twice (a resend after a crash) can tell it is one message."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "ky-cuong.local"
    digest = hashlib.sha256(outgoing.dedupe_key.encode()).hexdigest()[:16]
    return f"<kc.{outgoing.message_id}.{digest}@{domain}>"


class EmailChannel:
    name = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def address(self, contact: Contact) -> str | None:
        return contact.email

    def build(self, outgoing: Outgoing, to: str) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = outgoing.rendered.subject
        msg["From"] = self.config.sender
        msg["To"] = to
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = message_id_header(outgoing, self.config.sender)
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(outgoing.rendered.text)
        msg.add_alternative(outgoing.rendered.html, subtype="html")
        for a in outgoing.attachments:
            maintype, _, subtype = a.media_type.partition("/")
            msg.add_attachment(a.content, maintype=maintype, subtype=subtype, filename=a.filename)
        return msg

    def send(self, outgoing: Outgoing, contact: Contact) -> None:
        c = self.config
        to = contact.email
        if not c.host:
            raise SendError("Chưa cấu hình máy chủ thư (KC_SMTP_HOST).", permanent=True)
        if not to:
            raise SendError("Người nhận chưa có địa chỉ e-mail.", permanent=True)
        msg = self.build(outgoing, to)
        where = f"{c.host}:{c.port}"
        try:
            server: smtplib.SMTP
            if c.use_ssl:
                server = smtplib.SMTP_SSL(
                    c.host, c.port, timeout=c.timeout_s, context=ssl.create_default_context()
                )
            else:
                server = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
            with server:
                if c.starttls and not c.use_ssl:
                    server.starttls(context=ssl.create_default_context())
                if c.user:
                    server.login(c.user, c.password or "")
                server.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0] if exc.recipients else 0
            raise SendError(
                f"Máy chủ thư từ chối địa chỉ người nhận (mã {code}).", permanent=500 <= code < 600
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(
                f"Máy chủ thư {where} từ chối tài khoản đăng nhập (mã {exc.smtp_code})."
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise SendError(f"Máy chủ thư {where} không hỗ trợ STARTTLS.") from exc
        except smtplib.SMTPResponseException as exc:
            reply = exc.smtp_error
            text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
            raise SendError(
                f"Máy chủ thư {where} trả lời lỗi {exc.smtp_code}: {text[:200]}"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"Không kết nối được máy chủ thư {where}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str | None
    secret: str = ""
    timeout_s: float = 10.0


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>." + body): the receiver recomputes
    it and refuses a timestamp too old (a replayed request)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookChannel:
    name = "webhook"

    def __init__(self, config: WebhookConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self.client = client

    def address(self, contact: Contact) -> str | None:
        return contact.phone or contact.recipient if self.config.url else None

    def body(self, outgoing: Outgoing, contact: Contact) -> bytes:
        import base64

        payload = {
            "id": f"kc-{outgoing.message_id}",
            "kind": outgoing.kind,
            "recipient": {"ref": contact.recipient, "name": contact.name, "phone": contact.phone},
            "subject": outgoing.rendered.subject,
            "text": outgoing.rendered.text,
            "attachments": [
                {
                    "filename": a.filename,
                    "media_type": a.media_type,
                    "content_base64": base64.b64encode(a.content).decode(),
                }
                for a in outgoing.attachments
            ],
        }
        return json.dumps(payload, ensure_ascii=False).encode()

    def send(self, outgoing: Outgoing, contact: Contact) -> None:
        c = self.config
        if not c.url:
            raise SendError("Chưa cấu hình địa chỉ webhook (KC_WEBHOOK_URL).", permanent=True)
        body = self.body(outgoing, contact)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-KC-Message-Id": f"kc-{outgoing.message_id}",
            "X-KC-Timestamp": timestamp,
            "X-KC-Signature": signature(c.secret, timestamp, body),
        }
        try:
            if self.client is not None:
                response = self.client.post(c.url, content=body, headers=headers)
            else:
                response = httpx.post(c.url, content=body, headers=headers, timeout=c.timeout_s)
        except httpx.HTTPError as exc:
            raise SendError(f"Không gọi được webhook: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise SendError(f"Webhook trả lời lỗi HTTP {response.status_code}.")
