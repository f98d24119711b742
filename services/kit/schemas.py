"""Shared request-model bases: what every write body refuses (DESIGN 4)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

NUL = "\x00"


def _refuse_nul(value: Any) -> Any:
    """Walks strings, lists and dict keys/values; NUL bytes never reach a database."""
    if isinstance(value, str):
        if NUL in value:
            raise ValueError("NUL bytes are not allowed")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key)
            _refuse_nul(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_nul(item)
    return value


class WriteModel(BaseModel):
    """Base of request bodies: unknown fields are refused, and so are NUL bytes in any string
    (in lists and dicts too; nested WriteModels check their own fields); the 422 names the
    field."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_bytes(cls, value: Any) -> Any:
        return _refuse_nul(value)
