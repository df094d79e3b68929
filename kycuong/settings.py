"""Settings (cấu hình) from the environment, one object for the whole process.

Every variable is prefixed ``KC_``; ``.env.example`` lists them with their defaults.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from ingest.failover import BrokerAddress
    from store.summaries import Thresholds


class Settings(BaseSettings):
    """All runtime configuration; defaults are the embedded one-office quickstart."""

    model_config = SettingsConfigDict(env_prefix="KC_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./kycuong.db"

    mqtt_host: str = Field(
        default="127.0.0.1",
        description="the broker; several nodes comma-separated (nats-1,nats-2:1884,nats-3)",
    )
    mqtt_port: int = 1884
    mqtt_url: str | None = Field(
        default=None,
        description=(
            "instead of KC_MQTT_HOST/PORT: mqtt://nats-1:1883,mqtt://nats-2:1883,…; "
            "the ingest moves to the next address when one is lost or refuses"
        ),
    )
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_embedded: bool = Field(
        default=True, description="start the in-process broker (amqtt) instead of using one"
    )
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    mqtt_client_id: str = "kycuong-ingest-1"
    mqtt_shared_group: str | None = Field(
        default=None, description="join $share/<group>/... so several workers split the load"
    )
    mqtt_session_expiry_s: int = 7 * 24 * 3600
    mqtt_tls_ca: str | None = Field(
        default=None, description="CA certificate: connect to the broker's TLS listener"
    )

    ingest_batch_size: int = Field(default=500, ge=1, le=10_000)
    ingest_flush_ms: int = Field(default=50, ge=1, le=10_000)
    ingest_receive_maximum: int = Field(default=1000, ge=1, le=65_535)
    ingest_receipts: bool = Field(
        default=True, description="after each commit, tell each device which punches are stored"
    )
    max_clock_skew_s: int = Field(default=300, ge=0)
    max_backlog_age_days: int = Field(
        default=62,
        ge=1,
        le=3650,
        description="punches older than this when received are quarantined as dead letters",
    )
    dead_letter_device_cap: int = Field(
        default=200, ge=1, description="distinct dead letters kept per device; then counted"
    )
    dead_letter_retention_days: int = Field(default=90, ge=1)
    dead_letter_payload_bytes: int = Field(default=65_536, ge=256)

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_secret: str = Field(
        default="",
        description=(
            "signs access tokens, at least 32 characters; empty: a key made on first start and "
            "kept in the database, shared by every replica"
        ),
    )
    api_token_minutes: int = Field(default=8 * 60, ge=1, le=7 * 24 * 60)
    password_hash_profile: Literal["rfc9106_low_memory", "cheapest"] = Field(
        default="rfc9106_low_memory",
        description=(
            "argon2id parameters for new password hashes: RFC 9106's low-memory profile "
            "(64 MiB, 3 passes); 'cheapest' (and bcrypt cost 4 for readers' NATS passwords) "
            "only for the test suite, never for real accounts"
        ),
    )
    trusted_proxies: str = Field(
        default="",
        description=(
            "reverse proxies (nginx, Caddy) whose X-Forwarded-For and X-Forwarded-Proto are "
            "believed: addresses or networks, comma-separated (10.0.0.5,172.18.0.0/16); "
            "empty: none, the client is the connection's peer"
        ),
    )
    api_docs: bool = Field(default=True, description="serve /docs and /openapi.json")
    metrics_token: str = Field(
        default="", description="bearer token for the API's /metrics (empty: /metrics is off)"
    )
    signin_account_failures: int = Field(default=10, ge=1)
    signin_address_failures: int = Field(default=50, ge=1)
    signin_window_minutes: int = Field(default=15, ge=1)
    signin_lockout_minutes: int = Field(default=5, ge=1)
    import_max_rows: int = Field(default=20_000, ge=1)
    confirm_threshold: int = Field(
        default=20,
        ge=0,
        description="a recompute or rules change adding or withdrawing more violations asks first",
    )

    # Thresholds that open a discipline file (Nghị định 112/2020, as amended): configurable.
    absence_days_per_month_flag: float = 5
    absence_days_per_year_flag: float = 20
    consecutive_absence_days_flag: int = 5

    # Documents (báo cáo, bảng chấm công): who receives a report, where it is issued, symbols.
    report_recipient: str = Field(
        default="",
        description="'Kính gửi' of a report; empty: the issuing agency's parent (cơ quan chủ quản)",
    )
    report_issuer: str = Field(
        default="Sở Nội vụ", description="issuing body when the user has no agency (province)"
    )
    report_place: str = Field(default="", description="'Hà Nội' in 'Hà Nội, ngày … tháng …'")
    timesheet_symbols: dict[str, str] = Field(
        default_factory=dict, description='overrides of the C01a-HD symbols, e.g. {"absent": "Ko"}'
    )
    score_rule: dict[str, float | str] = Field(
        default_factory=dict,
        description='the kỷ luật score rule over the defaults, e.g. {"per_absent_day": 3}',
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies_are_addresses(cls, value: str) -> str:
        entries = []
        for entry in (item.strip() for item in value.split(",")):
            if not entry:
                continue
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                # uvicorn would take a typo as a name that never matches, and '*' trusts
                # every client to name its own address: refuse both.
                raise ValueError(
                    f"KC_TRUSTED_PROXIES: {entry!r} không phải địa chỉ IP hay dải mạng "
                    "(ví dụ 10.0.0.5 hoặc 172.18.0.0/16)"
                ) from None
            entries.append(str(network) if "/" in entry else entry)
        return ",".join(entries)

    @property
    def trusted_proxy_list(self) -> list[str]:
        """``trusted_proxies`` as the list uvicorn's ProxyHeadersMiddleware takes."""
        return [entry for entry in self.trusted_proxies.split(",") if entry]

    @field_validator("mqtt_host", "mqtt_url")
    @classmethod
    def _broker_addresses_readable(cls, value: str | None) -> str | None:
        from ingest.failover import parse_brokers

        if value is not None and value.strip():
            parse_brokers(value, 1883)  # a typo stops the process with the entry named
        return value

    @model_validator(mode="after")
    def _broker_addresses_usable(self) -> Settings:
        from ingest.failover import asks_for_tls, parse_brokers

        spec = (self.mqtt_url or "").strip() or self.mqtt_host
        parse_brokers(spec, self.mqtt_port)  # an empty KC_MQTT_HOST too, at start
        if asks_for_tls(spec) and not self.mqtt_tls_ca:
            raise ValueError(
                "địa chỉ mqtts:// cần chứng chỉ CA của máy chủ MQTT: đặt KC_MQTT_TLS_CA "
                "(thiếu nó, kết nối sẽ không mã hoá và bị máy chủ TLS từ chối)"
            )
        return self

    @property
    def mqtt_brokers(self) -> tuple[BrokerAddress, ...]:
        """Every broker address, in the order a client tries them (the first at start)."""
        from ingest.failover import parse_brokers

        url = (self.mqtt_url or "").strip()  # empty, as compose passes an unset variable
        return parse_brokers(url or self.mqtt_host, self.mqtt_port)

    @field_validator("score_rule")
    @classmethod
    def _score_rule_known(cls, value: dict[str, float | str]) -> dict[str, float | str]:
        from rules.discipline_score import ScoreRule

        ScoreRule.with_overrides(value)  # a misspelt key stops the process, not a download
        return value

    @field_validator("timesheet_symbols")
    @classmethod
    def _timesheet_symbols_known(cls, value: dict[str, str]) -> dict[str, str]:
        from services.documents.timesheet import Symbols

        Symbols.with_overrides(value)  # a misspelt kind stops the process, as the score rule
        return value

    # Notifications (thông báo): the outbox's channels, links, digests and the monthly report.
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="the web app's address, for links in messages"
    )
    agency_name: str = Field(
        default="", description="signs messages when a person's agency is unknown"
    )
    notify_enabled: bool = Field(
        default=True, description="queue notifications and run the sender in the rules role"
    )
    notify_violation_kinds: list[str] = Field(
        default_factory=lambda: ["late", "early_leave", "absent", "missing_in", "missing_out"]
    )
    notify_hold_minutes: int = Field(
        default=5, ge=0, description="wait before a violation notice, so a backlog may withdraw it"
    )
    notify_max_age_days: int = Field(
        default=3, ge=0, description="no notice for a violation of a day older than this"
    )
    notify_quiet_hours: str = Field(
        default="21:00-06:30", description="default quiet hours, local; empty: none"
    )
    notify_digest_times: list[str] = Field(default_factory=lambda: ["09:30", "17:30"])
    notify_monthly_at: str = Field(default="07:00", description="on the 1st, local time")
    notify_max_attempts: int = Field(default=8, ge=1, le=50)
    notify_backoff_s: float = Field(default=30.0, gt=0, description="first retry delay, doubling")
    notify_backoff_max_s: float = Field(default=6 * 3600.0, gt=0)
    notify_lease_s: float = Field(
        default=300.0, gt=0, description="a claimed message is another sender's after this"
    )
    notify_poll_s: float = Field(default=5.0, gt=0)
    notify_address_wait_days: float = Field(
        default=7.0,
        gt=0,
        le=365,
        description="a notice waiting for its recipient's address this long expires unsent",
    )
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "Kỷ Cương <ky-cuong@localhost>"
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    webhook_url: str | None = Field(
        default=None, description="a Zalo OA or chat gateway: a signed JSON POST per message"
    )
    webhook_secret: str = Field(default="", description="HMAC-SHA256 key of the signature")
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    # Self-service (cán bộ tự phục vụ): the giải trình deadline and attachments.
    explanation_working_days: int = Field(
        default=3, ge=0, le=60, description="giải trình allowed until N working days after"
    )
    attachment_max_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, le=50 * 1024 * 1024, description="PDF, JPEG or PNG"
    )
    leave_backdate_working_days: int | None = Field(
        default=None,
        ge=0,
        le=60,
        description="xin nghỉ / công tác for a past day until N working days after it "
        "(sick leave: after its last day); unset: explanation_working_days",
    )
    leave_ahead_days: int = Field(
        default=366, ge=1, le=3660, description="xin nghỉ / công tác at most N days ahead"
    )

    metrics_port: int | None = Field(
        default=None, description="serve Prometheus metrics of the ingest/rules role here"
    )

    timezone: str = "Asia/Ho_Chi_Minh"
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @property
    def thresholds(self) -> Thresholds:
        """The discipline thresholds (NĐ 112/2020) the summaries flag."""
        from store.summaries import Thresholds

        return Thresholds(
            self.absence_days_per_month_flag,
            self.absence_days_per_year_flag,
            self.consecutive_absence_days_flag,
        )

    @property
    def effective_protocol(self) -> Literal["5", "3.1.1"]:
        """The embedded broker (amqtt) speaks MQTT 3.1.1 only."""
        return "3.1.1" if self.mqtt_embedded else self.mqtt_protocol


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
