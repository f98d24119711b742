"""Start and stop the alert broadcaster behind `GET /v1/stream` (being built)."""

from __future__ import annotations

from fastapi import FastAPI

from services.kit.app import ServiceRuntime


async def start_broadcaster(app: FastAPI, runtime: ServiceRuntime) -> None:
    return None


async def stop_broadcaster(app: FastAPI, runtime: ServiceRuntime) -> None:
    return None
