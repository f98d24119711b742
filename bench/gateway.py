"""What the gateway costs: an authenticated GET of a real service endpoint, directly and through
the gateway, side by side in one run.

- the service: payments_mock (`python -m deploy.serve payments_mock`, SQLite), `GET
  /v1/payments?limit=10` with a real EdDSA service token (scope payments:read) that the service
  verifies against the gateway's JWKS; a few payments are created first so the page has rows;
- the gateway (`python -m deploy.serve gateway`): token verification, rate limits (in memory,
  set high enough never to refuse) and the hash-chained audit log all on;
- wrk (installed with apt-get if missing) loads each in turn: `--rounds` pairs of runs at 32
  connections (throughput), then `--pairs` pairs of short runs at 1 connection (latency).
  Same URL path, same token.

Both servers log at WARNING (no per-request access lines on either side); the audit log still
records every request through the gateway, which is checked at the end (`/audit/verify`).

    uv run python bench/gateway.py [--seconds 10] [--rounds 3] [--pairs 15] [--pair-seconds 2]
        [--redis redis://127.0.0.1:6379/0]

Targets (issue 3): via gateway >= 0.8x direct throughput at 32 connections; p50 added at one
connection <= 0.25 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

# Run as a script, this file's directory comes first on sys.path and `gateway` names this
# file: the gateway package is used only through its processes and the `cityhall` CLI.
from bench.kit_overhead import ensure_wrk, free_port

ROOT = Path(__file__).resolve().parent.parent
PATH = "/v1/payments?limit=10"
SCOPES = ("payments:read", "payments:write")
NEVER = {"rate": 1_000_000, "burst": 1_000_000}
TARGET_RATIO = 0.8
TARGET_ADDED_MS = 0.25


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int
    cpu_us: dict[str, float]  # CPU time per request of each server process


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(value: str, unit: str) -> float:
    return (
        float(value) / 1000
        if unit == "us"
        else float(value) * 1000
        if unit == "s"
        else float(value)
    )


def run_wrk(
    wrk: str, url: str, token: str, connections: int, seconds: int, pids: dict[str, int]
) -> Load:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    output = subprocess.run(
        [
            *(wrk, "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s"),
            *("--latency", "-H", f"Authorization: Bearer {token}", url),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}

    def found(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output)
        if match is None:
            raise RuntimeError(f"unexpected wrk output:\n{output}")
        return match

    p50, p99 = found(r"\s50%\s+([\d.]+)(us|ms|s)"), found(r"\s99%\s+([\d.]+)(us|ms|s)")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failures = int(non_2xx.group(1)) if non_2xx else 0
    failures += sum(int(n) for n in errors.groups()) if errors else 0
    requests = int(found(r"(\d+) requests in").group(1))
    return Load(
        rps=float(found(r"Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=_ms(*p50.groups()),
        p99_ms=_ms(*p99.groups()),
        requests=requests,
        failures=failures,
        cpu_us={name: used * 1e6 / max(1, requests) for name, used in cpu.items()},
    )


def wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{base} exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base} did not start:\n{log.read_text()}")


def serve(name: str, env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "deploy.serve", name],
        cwd=ROOT,
        env={**os.environ, "CITYHALL_LOG_LEVEL": "WARNING", **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def mint(var_dir: Path, *options: str) -> str:
    """A token signed with the gateway's own keys (`cityhall token`, simulation mode)."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "deploy.cli", "token"),
            *("--var-dir", str(var_dir), "--ttl", "3600", *options),
        ],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Idempotency-Key"] = f"bench-{time.time_ns()}"
    response = httpx.request(method, url, json=body, headers=headers, timeout=30)
    response.raise_for_status()
    return response.json()


def gateway_env(var_dir: Path, port: int, service_url: str, redis: str | None) -> dict[str, str]:
    classes = {name: {"per_principal": NEVER, "per_ip": NEVER} for name in ("read", "write")}
    env = {
        "GATEWAY_PORT": str(port),
        "GATEWAY_VAR_DIR": str(var_dir),
        "GATEWAY_UPSTREAMS": json.dumps({"payments_mock": service_url}),
        "GATEWAY_ROUTES": json.dumps({"/v1/payments": "payments_mock"}),
        "GATEWAY_RATE_LIMITS": json.dumps({"classes": {**classes, "auth": {"per_ip": NEVER}}}),
        "GATEWAY_SMTP_PORT": str(free_port()),  # the gateway sends no mail here
    }
    if redis:
        env["GATEWAY_REDIS_URL"] = redis
    return env


def service_env(var_dir: Path, port: int, gateway_url: str) -> dict[str, str]:
    return {
        "PAYMENTS_MOCK_PORT": str(port),
        "PAYMENTS_MOCK_DATABASE_URL": f"sqlite+aiosqlite:///{var_dir / 'payments.db'}",
        "PAYMENTS_MOCK_GATEWAY_URL": gateway_url,
    }


def median_load(loads: list[Load]) -> Load:
    return Load(
        rps=statistics.median(x.rps for x in loads),
        p50_ms=statistics.median(x.p50_ms for x in loads),
        p99_ms=statistics.median(x.p99_ms for x in loads),
        requests=sum(x.requests for x in loads),
        failures=sum(x.failures for x in loads),
        cpu_us={k: statistics.median(x.cpu_us[k] for x in loads) for k in loads[0].cpu_us},
    )


Rounds = dict[tuple[str, int], list[Load]]


def measure(
    wrk: str, urls: dict[str, str], token: str, pids: dict[str, int], args: argparse.Namespace
) -> Rounds:
    """Throughput: `--rounds` pairs of `--seconds` runs at 32 connections. Latency: `--pairs`
    pairs of short runs at one connection, the order swapped every pair (ABBA), so that a
    drift of the machine's speed during the run falls on both sides alike."""
    rounds: Rounds = {}
    for url in urls.values():
        run_wrk(wrk, url, token, 32, 3, pids)  # warm-up: connection pools, caches
    names = list(urls)
    for _ in range(args.rounds):
        for name in names:
            rounds.setdefault((name, 32), []).append(
                run_wrk(wrk, urls[name], token, 32, args.seconds, pids)
            )
    for pair in range(args.pairs):
        for name in names if pair % 2 == 0 else reversed(names):
            rounds.setdefault((name, 1), []).append(
                run_wrk(wrk, urls[name], token, 1, args.pair_seconds, pids)
            )
    return rounds


def report(rounds: Rounds, args: argparse.Namespace) -> None:
    results = {key: median_load(loads) for key, loads in rounds.items()}
    print(
        f"\nGET {PATH} (payments_mock, service token), medians of wrk runs: {args.rounds} x "
        f"{args.seconds} s per side at 32 connections, {args.pairs} x {args.pair_seconds} s "
        f"per side at 1; {os.cpu_count()} CPUs"
    )
    print(
        f"{'':10} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7} "
        f"{'CPU µs/req: service':>20} {'gateway':>8}"
    )
    for (name, connections), load in sorted(results.items(), key=lambda i: (-i[0][1], i[0][0])):
        print(
            f"{name:10} {connections:>5} {load.rps:>9.0f} {load.p50_ms:>8.3f} "
            f"{load.p99_ms:>8.3f} {load.failures:>7} {load.cpu_us['service']:>20.0f} "
            f"{load.cpu_us['gateway']:>8.0f}"
        )
    # Each direct run is paired with the gateway run next to it, so the comparison is made
    # within a pair (the machine's speed drifts during a run), then the median of the pairs.
    pairs = zip(rounds[("direct", 32)], rounds[("gateway", 32)], strict=True)
    ratios = [gateway.rps / direct.rps for direct, gateway in pairs]
    pairs = zip(rounds[("direct", 1)], rounds[("gateway", 1)], strict=True)
    added = [gateway.p50_ms - direct.p50_ms for direct, gateway in pairs]
    ratio, added_ms = statistics.median(ratios), statistics.median(added)
    print()
    print(f"{'measure (median of the pairs)':38} {'value':>9} {'target':>9}   pairs")
    ok_ratio = "ok" if ratio >= TARGET_RATIO else "MISSED"
    ok_added = "ok" if added_ms <= TARGET_ADDED_MS else "MISSED"
    print(
        f"{'throughput via gateway / direct (32)':38} {ratio:>8.2f}x {'>= 0.80x':>9} "
        f"{ok_ratio:6}  {' '.join(f'{r:.2f}' for r in ratios)}"
    )
    print(
        f"{'p50 added by the gateway (1), ms':38} {added_ms:>9.3f} {'<= 0.25':>9} "
        f"{ok_added:6}  {' '.join(f'{a:.2f}' for a in added)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="throughput pairs (32 conns)")
    parser.add_argument("--pairs", type=int, default=15, help="latency pairs (1 connection)")
    parser.add_argument("--pair-seconds", type=int, default=2)
    parser.add_argument("--payments", type=int, default=10, help="rows created before the load")
    parser.add_argument("--redis", help="GATEWAY_REDIS_URL for the gateway (default: in memory)")
    args = parser.parse_args()
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp)
        gateway_port, service_port = free_port(), free_port()
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        service_url = f"http://127.0.0.1:{service_port}"
        token = mint(var_dir, "--kind", "service", "--sub", "svc-bench", "--scope", SCOPES[0])
        writer = mint(var_dir, "--kind", "service", "--sub", "svc-bench", "--scope", SCOPES[1])
        auditor = mint(var_dir, "--kind", "staff", "--sub", "stf_bench", "--role", "auditor")
        logs = {name: (var_dir / f"{name}.log").open("wb") for name in ("gateway", "service")}
        env = gateway_env(var_dir, gateway_port, service_url, args.redis)
        processes = [serve("gateway", env, logs["gateway"])]
        try:
            wait_healthy(gateway_url, processes[0], var_dir / "gateway.log")
            env = service_env(var_dir, service_port, gateway_url)
            processes.append(serve("payments_mock", env, logs["service"]))
            wait_healthy(service_url, processes[1], var_dir / "service.log")
            for i in range(args.payments):
                body = {"amount": 1000 + i, "method": "konbini", "description": "bench"}
                call("POST", f"{service_url}/v1/payments", writer, body)
            page = call("GET", f"{gateway_url}{PATH}", token)
            assert len(page["items"]) == min(10, args.payments), page
            urls = {"direct": f"{service_url}{PATH}", "gateway": f"{gateway_url}{PATH}"}
            pids = {"gateway": processes[0].pid, "service": processes[1].pid}
            rounds = measure(wrk, urls, token, pids, args)
            time.sleep(1)  # the audit writer's last batch
            verified = call("GET", f"{gateway_url}/audit/verify", auditor)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=15)
            for log in logs.values():
                log.close()
        gateway_log = (var_dir / "gateway.log").read_text()
    report(rounds, args)
    loads = [(name, load) for (name, _), runs in rounds.items() for load in runs]
    through_gateway = sum(load.requests for name, load in loads if name == "gateway")
    print(
        f"\naudit log: {verified['events']} records (>= {through_gateway} requests through the "
        f"gateway), chain ok: {verified['ok']}; rate limits: "
        f"{'Redis ' + args.redis if args.redis else 'in memory'}"
    )
    if any(load.failures for _, load in loads):
        print("WARNING: some requests failed (non-2xx or socket errors); see the table")
    if "dropped" in gateway_log or "ERROR" in gateway_log:
        print(f"gateway log:\n{gateway_log}")


if __name__ == "__main__":
    main()
