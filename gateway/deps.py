"""Dependencies of the gateway's own routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.runtime import GatewayRuntime


async def get_runtime(request: Request) -> GatewayRuntime:
    runtime: GatewayRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[GatewayRuntime, Depends(get_runtime)]
