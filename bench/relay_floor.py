"""The gateway next to the floor under any Python gateway on this machine.

A tiny ASGI app under the stack's own uvicorn configuration answers after `--delays`
milliseconds (asyncio.sleep, no CPU). wrk at one connection loads it three ways, in
rotating order, `--pairs` times: directly; through a byte relay (uvloop, each client
connection piped to its own upstream connection, nothing parsed or checked: what one extra
Python process hop costs here, before any gateway work); and through the gateway (a real
token verified, rate limits and the audit log on, as in bench/gateway.py). Printed: the
p50 each adds to the direct p50, medians of the per-round differences.

    uv run python bench/relay_floor.py [--delays 0,1,2,5] [--pairs 5] [--seconds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

from bench.gateway import PATH, SCOPES, gateway_env, mint, serve
from bench.kit_overhead import ensure_wrk, free_port

ROOT = Path(__file__).resolve().parent.parent

APP = """
import asyncio, os, sys
sys.path.insert(0, {root!r})
import uvicorn
from deploy.serve import server_config
DELAY = float(os.environ["RELAY_FLOOR_DELAY_MS"]) / 1000
BODY = b'{{"items":[],"next_cursor":null}}'
async def app(scope, receive, send):
    if DELAY:
        await asyncio.sleep(DELAY)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]
    await send({{"type": "http.response.start", "status": 200, "headers": headers}})
    await send({{"type": "http.response.body", "body": BODY}})
uvicorn.Server(server_config(app, "127.0.0.1", int(sys.argv[1]), lifespan="off")).run()
"""


class Pipe(asyncio.Protocol):
    def __init__(self) -> None:
        self.peer: asyncio.Transport | None = None
        self.transport: asyncio.Transport | None = None
        self.early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self.early.append(data)
        else:
            self.peer.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.peer.close()


class Downstream(Pipe):
    upstream_port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.connecting = asyncio.get_running_loop().create_task(self.connect())

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        up_transport, up = await loop.create_connection(Pipe, "127.0.0.1", self.upstream_port)
        up.peer, self.peer = self.transport, up_transport
        for data in self.early:
            up_transport.write(data)


async def relay(port: int, upstream_port: int) -> None:
    Downstream.upstream_port = upstream_port
    server = await asyncio.get_running_loop().create_server(Downstream, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def p50_ms(wrk: str, url: str, seconds: int, token: str) -> float:
    out = subprocess.run(
        [
            wrk,
            "-t1",
            "-c1",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"\s50%\s+([\d.]+)(us|ms|s)", out)
    assert match, out
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-relay":
        import uvloop

        uvloop.run(relay(int(sys.argv[2]), int(sys.argv[3])))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--delays", default="0,1,2,5", help="upstream answer delays, ms")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=2)
    args = parser.parse_args()
    wrk = ensure_wrk()
    print(f"{os.cpu_count()} CPUs; wrk -c1, {args.pairs} rounds of {args.seconds} s each")
    print(
        f"{'delay ms':>8} {'direct p50':>11} {'relay adds':>11} {'gateway adds':>13}"
        "   (ms; gateway per round)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp)
        token = mint(var_dir, "--kind", "service", "--sub", "svc-bench", "--scope", SCOPES[0])
        for delay in (float(d) for d in args.delays.split(",")):
            measure_delay(wrk, var_dir, token, delay, args)


def measure_delay(
    wrk: str, var_dir: Path, token: str, delay: float, args: argparse.Namespace
) -> None:
    app_port, relay_port, gateway_port = free_port(), free_port(), free_port()
    env = {**os.environ, "RELAY_FLOOR_DELAY_MS": str(delay)}
    app_url = f"http://127.0.0.1:{app_port}"
    app_source = APP.format(root=str(ROOT))
    log = (var_dir / f"gateway-{delay}.log").open("wb")
    processes = [
        subprocess.Popen([sys.executable, "-c", app_source, str(app_port)], env=env),
        subprocess.Popen(
            [sys.executable, __file__, "--serve-relay", str(relay_port), str(app_port)], cwd=ROOT
        ),
        serve("gateway", gateway_env(var_dir, gateway_port, app_url, None), log),
    ]
    try:
        for port in (app_port, relay_port, gateway_port):
            wait_listening(port)
        urls = {
            name: f"http://127.0.0.1:{port}{PATH}"
            for name, port in (
                ("direct", app_port),
                ("relay", relay_port),
                ("gateway", gateway_port),
            )
        }
        for url in urls.values():
            p50_ms(wrk, url, 1, token)  # warm-up
        runs: dict[str, list[float]] = {name: [] for name in urls}
        names = list(urls)
        for round_ in range(args.pairs):
            for name in names[round_ % 3 :] + names[: round_ % 3]:
                runs[name].append(p50_ms(wrk, urls[name], args.seconds, token))
        added = {
            name: [x - d for d, x in zip(runs["direct"], runs[name], strict=True)]
            for name in ("relay", "gateway")
        }
        print(
            f"{delay:>8.1f} {statistics.median(runs['direct']):>11.3f} "
            f"{statistics.median(added['relay']):>11.3f} "
            f"{statistics.median(added['gateway']):>13.3f}   "
            + " ".join(f"{a:.2f}" for a in added["gateway"])
        )
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=15)
        log.close()


if __name__ == "__main__":
    main()
