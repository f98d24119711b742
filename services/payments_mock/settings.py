"""Settings; each field is also read from the environment with this service's prefix."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings, dev_secret


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_MOCK_", extra="ignore", frozen=True)

    service_name: str = "payments_mock"
    port: int = 8004

    public_url: str = Field(
        "", description="base URL payers' browsers use for vouchers; default http://host:port"
    )
    code_secret: SecretStr = Field(
        default_factory=lambda: dev_secret("payment-codes"),
        description="HMAC key deriving payment codes, barcodes and voucher links",
    )
    company_code: str = Field(
        "912345", pattern=r"^9\d{5}$", description="請求書発行企業コード in the GS1-128 barcode"
    )
    payeasy_institution_number: str = Field("58091", pattern=r"^\d{5}$", description="収納機関番号")
    settlement_business_days: int = Field(
        2, ge=0, le=30, description="business days from 速報 (paid) to 確報 (settled)"
    )
    refund_business_days: int = Field(
        3, ge=0, le=30, description="business days until a bank-transfer refund is completed"
    )
    webhook_allowed_hosts: tuple[str, ...] = Field(
        (), description="callback hosts allowed besides loopback (127.0.0.0/8, ::1, localhost)"
    )
    webhook_secret_grace_hours: int = Field(
        24, ge=0, le=24 * 30, description="how long a rotated-out secret still signs"
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60)

    @property
    def voucher_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
