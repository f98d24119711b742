"""Settings; each field is also read from the environment with this service's prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="E_APPLICATION_", extra="ignore", frozen=True)

    service_name: str = "e_application"
    port: int = 8001
    # Attachments go up to 10 MiB (the catalogue's cap) plus the multipart framing.
    max_body_bytes: int = Field(11 * 1024 * 1024, ge=1024)
    attachments_dir: Path | None = Field(
        None, description="where attachment files are kept; default <var_dir>/e_application"
    )
    jpki_trust_ttl_seconds: float = Field(
        30.0, ge=0, le=3600, description="how long the CA certificate and CRL are kept"
    )

    @property
    def attachments_path(self) -> Path:
        return self.attachments_dir or self.var_dir / "e_application" / "attachments"
