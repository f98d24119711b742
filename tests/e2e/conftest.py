"""`cityhall up` as a real subprocess: free ports, a throw-away var dir, and a process group
that is killed whatever happens, so a failing test never leaves servers behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from deploy.testing.ports import free_ports
from deploy.testing.suite import launch_up
from tests.support.progress import until_done

# A hang guard for the launcher's startup, not a measurement: six Python processes importing
# FastAPI on a 2-core box that also runs a second copy of the suite took more than 90 s.
STARTUP_GUARD_SECONDS = 300.0
READY_WITHIN_SECONDS = 90.0  # /readyz once every app already answers /healthz
LAUNCHER_READY = "press Ctrl-C to stop"  # printed after the URL table, once all are healthy
SERVICE_PORT_ENV = {
    "e_application": "E_APPLICATION_PORT",
    "facility_booking": "FACILITY_BOOKING_PORT",
    "alert_mail": "ALERT_MAIL_PORT",
    "payments_mock": "PAYMENTS_MOCK_PORT",
}


@dataclass(frozen=True, slots=True)
class Ports:
    gateway: int
    services: dict[str, int]
    smtp: int
    mailbox: int

    @classmethod
    def pick(cls) -> Ports:
        ports = free_ports(3 + len(SERVICE_PORT_ENV))
        services = dict(zip(SERVICE_PORT_ENV, ports[3:], strict=True))
        return cls(gateway=ports[0], services=services, smtp=ports[1], mailbox=ports[2])

    def env(self) -> dict[str, str]:
        env = {
            "GATEWAY_PORT": str(self.gateway),
            "CITYHALL_SMTP_PORT": str(self.smtp),
            "CITYHALL_MAILBOX_PORT": str(self.mailbox),
        }
        env.update({SERVICE_PORT_ENV[n]: str(p) for n, p in self.services.items()})
        return env


@dataclass(slots=True)
class RunningStack:
    process: asyncio.subprocess.Process
    ports: Ports
    var_dir: Path
    log_path: Path
    child_pids: dict[str, int] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def mailbox_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.mailbox}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    async def wait_for_log(self, text: str, within: float = 10.0) -> None:
        """The launcher prints its URL table after its own health checks, which may finish
        a moment after the gateway's /readyz already answers."""
        deadline = time.monotonic() + within
        while text not in self.log():
            if time.monotonic() >= deadline:
                pytest.fail(f"{text!r} never appeared in the log:\n{self.log()}")
            await asyncio.sleep(0.1)

    def pid_file(self) -> dict[str, object]:
        document: dict[str, object] = json.loads((self.var_dir / "cityhall-up.json").read_text())
        return document

    async def wait_ready(self) -> float:
        """Until the launcher reports every app healthy, then until the gateway's /readyz
        (which checks every upstream) answers 200. The launcher's own startup timeout bounds
        the first wait: when it runs out the launcher stops the stack and exits, naming what
        was not ready, so the test waits on that outcome rather than on a clock of its own."""
        started = time.monotonic()
        while LAUNCHER_READY not in self.log():
            if self.process.returncode is not None:
                pytest.fail(f"cityhall up exited with {self.process.returncode}:\n{self.log()}")
            await asyncio.sleep(0.25)
        deadline = time.monotonic() + READY_WITHIN_SECONDS  # every app already answers
        last = "no answer"
        async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    pytest.fail(f"cityhall up exited with {self.process.returncode}:\n{self.log()}")
                try:
                    answer = await client.get(f"{self.gateway_url}/readyz")
                    if answer.status_code == 200:
                        return time.monotonic() - started
                    last = f"{answer.status_code} {answer.text}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                await asyncio.sleep(0.25)
        pytest.fail(
            f"/readyz not 200 within {READY_WITHIN_SECONDS:.0f} s (last: {last}):\n{self.log()}"
        )

    async def exited(self) -> int:
        """The launcher's exit code, once it has exited. It stops its children within its own
        grace periods, but on a loaded box it may still be importing: the guard is a launcher
        that prints nothing for a long while, not a total time."""
        try:
            await until_done(
                lambda: self.process.returncode is not None,
                lambda: len(self.log()),
                what="cityhall up, exiting",
            )
        except AssertionError as stalled:
            pytest.fail(f"{stalled}:\n{self.log()}")
        return await self.process.wait()

    async def interrupt(self) -> int:
        """SIGINT to the launcher only (as a terminal's Ctrl-C would), then wait for it."""
        self.process.send_signal(signal.SIGINT)
        return await self.exited()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a recycled pid owned by someone else
        return True
    return True


def _kill_everything(stack: RunningStack) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(stack.process.pid, signal.SIGKILL)
    for pid in stack.child_pids.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class Launch(Protocol):
    def __call__(
        self, extra: Sequence[str] = (), *, startup_timeout: float = STARTUP_GUARD_SECONDS
    ) -> Awaitable[RunningStack]: ...


@pytest.fixture
async def launch(tmp_path: Path) -> AsyncIterator[Launch]:
    """`await launch(["--single-process"])` starts `python -m deploy.cli up ...`."""
    started: list[RunningStack] = []

    async def start(
        extra: Sequence[str] = (), *, startup_timeout: float = STARTUP_GUARD_SECONDS
    ) -> RunningStack:
        ports = Ports.pick()
        var_dir = tmp_path / f"var{len(started)}"
        log_path = tmp_path / f"cityhall-up-{len(started)}.log"
        env = {
            **os.environ,
            **ports.env(),
            "CITYHALL_STARTUP_TIMEOUT_SECONDS": str(startup_timeout),
            "PYTHONUNBUFFERED": "1",
        }
        process = await launch_up(var_dir, env, log_path, extra)
        stack = RunningStack(process, ports, var_dir, log_path)
        started.append(stack)
        return stack

    try:
        yield start
    finally:
        for stack in started:
            if stack.process.returncode is None:
                _kill_everything(stack)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stack.process.wait(), 10)
            else:  # children of a launcher that died without stopping them
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(stack.process.pid, signal.SIGKILL)
