"""What the service kit costs per request: a bare FastAPI endpoint vs the same endpoint in a
kit service (request id, access log, metrics, body limit, problem handlers, auth marker).

Both apps run in uvicorn processes side by side in one run; wrk (installed with apt-get if
missing) loads each in turn. Prints requests/s, p50 and p99 and the ratio kit / bare.

    uv run python bench/kit_overhead.py [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BARE_APP = """
from fastapi import FastAPI
app = FastAPI()
@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "service": "bare"}
"""

KIT_APP = """
import logging
from services.e_application.app import create_app
from services.e_application.settings import Settings
from services.kit.app import RuntimeOptions
logging.getLogger("cityhall.access").setLevel(logging.WARNING)
settings = Settings(database_url="sqlite+aiosqlite:///{db}")
app = create_app(settings, RuntimeOptions(background=False))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def start(module_dir: Path, name: str, source: str, port: int) -> subprocess.Popen[bytes]:
    (module_dir / f"{name}.py").write_text(source, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": f"{module_dir}{os.pathsep}{Path.cwd()}"}
    command = [sys.executable, "-m", "uvicorn", f"{name}:app", "--port", str(port)]
    command += [
        "--log-level",
        "warning",
        "--no-access-log",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{name} did not start")


def run_wrk(wrk: str, url: str, seconds: int, connections: int) -> dict[str, float]:
    threads = min(2, connections)
    output = subprocess.run(
        [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]

    def percentile(label: str) -> float:
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", output)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {"rps": rps, "p50_ms": percentile("50"), "p99_ms": percentile("99")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        bare_port, kit_port = free_port(), free_port()
        bare = start(tmp_dir, "bare_app", BARE_APP, bare_port)
        kit = start(tmp_dir, "kit_app", KIT_APP.format(db=tmp_dir / "kit.db"), kit_port)
        try:
            results = {}
            for name, port in (("bare", bare_port), ("kit", kit_port)):
                url = f"http://127.0.0.1:{port}/healthz"
                run_wrk(wrk, url, 2, args.connections)  # warm-up
                results[name] = run_wrk(wrk, url, args.seconds, args.connections)
        finally:
            for process in (bare, kit):
                process.terminate()
                process.wait(timeout=10)
    print(f"GET /healthz, {args.connections} connections, {args.seconds} s each (wrk)")
    print(f"{'':6} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for name, r in results.items():
        print(f"{name:6} {r['rps']:>10.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}")
    print(f"kit / bare throughput: {results['kit']['rps'] / results['bare']['rps']:.2f}x")


if __name__ == "__main__":
    main()
