"""Settings; each field is also read from the environment with this service's prefix."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FACILITY_BOOKING_", extra="ignore", frozen=True)

    service_name: str = "facility_booking"
    port: int = 8002

    public_url: str = Field(
        "http://127.0.0.1:8000", description="where feed URLs and links point (the gateway)"
    )
