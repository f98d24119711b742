"""Start and stop the in-process sending workers with the service (being built)."""

from __future__ import annotations

from fastapi import FastAPI

from services.kit.app import ServiceRuntime


async def start_workers(app: FastAPI, runtime: ServiceRuntime) -> None:
    return None


async def stop_workers(app: FastAPI, runtime: ServiceRuntime) -> None:
    return None
