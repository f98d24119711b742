"""`cityhall up` waits past its start-up timeout only for an app that is still working: a slow
start on a busy machine keeps using CPU, a stuck app does not and is reported at the timeout."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from deploy import launcher
from deploy.launcher import NotHealthy, StartupProgress, cpu_seconds, wait_until_healthy
from deploy.stack import AppProcess

SPIN = "import sys; print('ready', flush=True)\nwhile True: pass"
IDLE = "import sys, time; print('ready', flush=True); time.sleep(600)"


@asynccontextmanager
async def child(code: str) -> AsyncIterator[int]:
    """A real process that never answers /healthz, started and ready to be measured."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        assert await process.stdout.readline() == b"ready\n"
        yield process.pid
    finally:
        process.kill()
        await process.wait()


def silent_app(name: str) -> AppProcess:
    """An app whose port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return AppProcess(name=name, role="service", host="127.0.0.1", port=port, env={})


async def until_cpu_grows(pid: int) -> None:
    first = cpu_seconds(pid)
    assert first is not None
    for _ in range(30_000):  # a spinning process gains a clock tick within 0.01 s of CPU
        if (cpu_seconds(pid) or 0.0) > first:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"process {pid} used no CPU for minutes")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_progress_tells_a_working_process_from_an_idle_one() -> None:
    async with child(SPIN) as spinning, child(IDLE) as idle:
        progress = StartupProgress({"spinning": spinning, "idle": idle})
        assert not progress.busy(["spinning", "idle"], time.monotonic())  # a first reading
        await until_cpu_grows(spinning)
        assert progress.busy(["spinning"], time.monotonic())
        assert not progress.busy(["idle"], time.monotonic())
        assert progress.busy(["spinning", "idle"], time.monotonic())
        later = time.monotonic() + launcher.STALLED_SECONDS + 1
        await until_cpu_grows(spinning)
        assert progress.busy(["spinning"], later)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def never_healthy(code: str, name: str, within: float) -> NotHealthy:
    """How the wait for an app run by `code` (which never answers /healthz) gave up."""
    async with child(code) as pid:
        never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        with pytest.raises(NotHealthy) as raised:
            await wait_until_healthy(
                [silent_app(name)], within=within, failed=never, pids={name: pid}
            )
    return raised.value


async def test_a_working_app_gets_more_time_up_to_the_bound() -> None:
    gave_up = await never_healthy(SPIN, "busy", within=0.3)
    assert gave_up.pending == ["busy"]
    # It was still working at the timeout, so it was given the whole bound.
    assert gave_up.after >= 0.3 * launcher.BUSY_EXTENSION_FACTOR


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_an_idle_app_fails_at_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # Were the idle app taken for a working one, this wait would last 500 s.
    monkeypatch.setattr(launcher, "BUSY_EXTENSION_FACTOR", 1000)
    gave_up = await never_healthy(IDLE, "stuck", within=0.5)
    assert gave_up.pending == ["stuck"]
    assert gave_up.after < 0.5 * 1000 / 2
