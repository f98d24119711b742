"""Child processes for the crash tests: start `python -m <module>`, SIGKILL it, stop it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import pytest

REPO = Path(__file__).resolve().parents[2]

needs_sigkill = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"),
    reason="kills a child process with SIGKILL, which this platform lacks: run it on"
    " Linux or macOS (CI runs it on Linux)",
)


async def spawn_module(
    module: str, *args: str, log: IO[bytes], env: Mapping[str, str] | None = None
) -> asyncio.subprocess.Process:
    """`python -m module args...` from the repository root, its output appended to `log`."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        cwd=REPO,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )


async def sigkill(process: asyncio.subprocess.Process, *, within: float = 10) -> int:
    """SIGKILLs `process` and returns its return code (waiting at most `within` seconds)."""
    process.send_signal(signal.SIGKILL)
    async with asyncio.timeout(within):
        return await process.wait()


async def stop(
    process: asyncio.subprocess.Process, sig: signal.Signals, *, within: float = 10
) -> None:
    """Sends `sig` unless the process has ended, waits `within` seconds, then kills it."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
    try:
        async with asyncio.timeout(within):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
