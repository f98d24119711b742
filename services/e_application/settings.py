"""Settings; each field is also read from the environment with this service's prefix."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="E_APPLICATION_", extra="ignore", frozen=True)

    service_name: str = "e_application"
    port: int = 8001
