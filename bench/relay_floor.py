"""The floor under any Python gateway on this machine: a byte relay with no HTTP at all.

A uvloop TCP relay (each client connection piped to its own upstream connection, bytes
copied both ways, nothing parsed, nothing checked) in front of a tiny ASGI app under the
stack's own uvicorn configuration that answers after `--delays` milliseconds (asyncio.sleep,
no CPU). wrk at one connection loads the app directly and through the relay in ABBA pairs;
the p50 the relay adds is what one extra Python process hop costs here when it waits for
its upstream, before any gateway work. Compare with bench/gateway.py's added p50.

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
import time
from pathlib import Path
from typing import cast

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


def p50_ms(wrk: str, url: str, seconds: int) -> float:
    out = subprocess.run(
        [wrk, "-t", "1", "-c", "1", "-d", f"{seconds}s", "--latency", url],
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
    print(f"{os.cpu_count()} CPUs; wrk -c1, {args.pairs} ABBA pairs of {args.seconds} s")
    print(f"{'delay ms':>8} {'direct p50':>11} {'relay p50':>10} {'added ms (median)':>18}  pairs")
    for delay in (float(d) for d in args.delays.split(",")):
        app_port, relay_port = free_port(), free_port()
        env = {**os.environ, "RELAY_FLOOR_DELAY_MS": str(delay)}
        source = APP.format(root=str(ROOT))
        processes = [
            subprocess.Popen([sys.executable, "-c", source, str(app_port)], env=env),
            subprocess.Popen(
                [sys.executable, __file__, "--serve-relay", str(relay_port), str(app_port)],
                cwd=ROOT,
            ),
        ]
        try:
            for port in (app_port, relay_port):
                wait_listening(port)
            urls = {
                "direct": f"http://127.0.0.1:{app_port}/",
                "relay": f"http://127.0.0.1:{relay_port}/",
            }
            for url in urls.values():
                p50_ms(wrk, url, 1)  # warm-up
            runs: dict[str, list[float]] = {"direct": [], "relay": []}
            for pair in range(args.pairs):
                order = ["direct", "relay"] if pair % 2 == 0 else ["relay", "direct"]
                for name in order:
                    runs[name].append(p50_ms(wrk, urls[name], args.seconds))
            added = [r - d for d, r in zip(runs["direct"], runs["relay"], strict=True)]
            print(
                f"{delay:>8.1f} {statistics.median(runs['direct']):>11.3f} "
                f"{statistics.median(runs['relay']):>10.3f} {statistics.median(added):>18.3f}  "
                + " ".join(f"{a:.2f}" for a in added)
            )
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
