"""OpenAPI declarations shared by every app: the problem document every error returns."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class FieldError(BaseModel):
    field: str
    message: str
    code: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


_PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {**_PROBLEM, "description": "Client error (RFC 9457 problem)"},
    "5XX": {**_PROBLEM, "description": "Server error (RFC 9457 problem)"},
}

PAGE_OR_PROBLEM: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": Problem,
        "content": {"application/problem+json": {}, "text/html": {}},
        "description": (
            "Client error: an RFC 9457 problem, or an HTML page when `Accept` asks for "
            "text/html (a browser following a mailed link)"
        ),
    }
}
