"""Settings; each field is also read from the environment with this service's prefix."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings, dev_secret


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ALERT_MAIL_", extra="ignore", frozen=True)

    service_name: str = "alert_mail"
    port: int = 8003

    public_url: str = Field(
        "http://127.0.0.1:8000", description="where links in mails point (the gateway)"
    )
    mail_from: str = Field("alert@city.demo.example.jp", description="its address")
    mail_domain: str = Field("city.demo.example.jp", description="right-hand side of Message-IDs")
    link_secret: SecretStr = Field(
        default_factory=lambda: dev_secret("alert-mail-links"),
        description="signs confirmation, manage, unsubscribe and reply links",
    )
    confirmation_ttl_hours: int = Field(24, ge=1, le=24 * 14)
    confirmation_mails_per_hour: int = Field(
        3, ge=1, le=100, description="per address; more sign-up requests send nothing"
    )
    duplicate_window_minutes: int = Field(10, ge=0, le=24 * 60)

    # Sending workers (in the service process by default; `cityhall worker alert_mail` runs more).
    workers_in_process: int = Field(1, ge=0, le=64, description="0: only external workers send")
    worker_batch_size: int = Field(500, ge=1, le=5000)
    worker_concurrency: int = Field(16, ge=1, le=256, description="SMTP sends in flight")
    smtp_pool_size: int = Field(16, ge=1, le=256, description="persistent SMTP connections")
    lease_seconds: int = Field(60, ge=5, le=3600, description="a claimed batch's lease")
    max_attempts: int = Field(6, ge=1, le=50, description="then technical-failure")
    retry_backoff_seconds: tuple[int, ...] = (30, 120, 600, 1800, 3600)
    hard_bounce_limit: int = Field(3, ge=1, le=100, description="permanent failures in a row")
    worker_idle_poll_seconds: float = Field(
        0.5, gt=0, le=60, description="how often an idle worker looks for due deliveries"
    )
    worker_cancel_poll_seconds: float = Field(
        0.5,
        gt=0,
        le=60,
        description="how often a sending worker looks for cancelled or superseded alerts",
    )
    mail_titles: dict[str, str] = Field(
        default_factory=dict,
        description="per language (ja, ja-plain, en, zh, ko): the mail's title in subjects "
        "and footers, e.g. デモ市 防災・防犯メール",
    )

    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_private_key: SecretStr | None = Field(
        None, description="PEM (RSA) or base64 raw (ed25519) private key; signs when set"
    )

    # Feeds (CAP, Atom, server-sent events).
    city_name_ja: str = Field("デモ市", description="CAP senderName and feed titles")
    city_name_en: str = "Demo City"
    stream_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="how often the stream looks for alerts other replicas sent"
    )
    stream_queue_size: int = Field(
        100, ge=1, le=10_000, description="events a stream client may lag behind; then dropped"
    )
