"""alert_mail fan-out: one alert to 64,000 confirmed subscribers (Okayama prefecture's alert
mail had ~64,000 registrants in the July 2018 floods) into a local SMTP sink.

- sink: aiosmtpd (on uvloop) in its own process; it accepts each whole message and counts it,
  stores nothing, and in the degraded runs answers 451 at RCPT for a fixed 5% of recipients;
- bare: plain aiosmtplib `sendmail` of pre-built messages (the same rendered bytes the service
  sends) over the same number of persistent connections the workers use: the sink's capacity,
  measured in the same run;
- fan-out: the service's real path: an emergency alert composed and published through the API
  (httpx ASGI transport, auth, audit, fan-out as one INSERT ... SELECT in the publishing
  transaction), then the sending workers claim, render, send and record. Timed from the
  publish request to the sink's count of the last accepted mail (and to the last `delivered`
  row recorded). In-process workers (the default) and external worker processes
  (`python -m services.alert_mail.worker`) are both run;
- 5% 4xx: the same with 3,200 recipients refused with 451: time until the healthy 95% are in
  the sink, against the clean run.

    uv run python bench/fanout.py [--subscribers 64000] [--skip-processes]
                                  [--postgres postgresql+asyncpg://postgres@127.0.0.1/postgres]

PostgreSQL runs when `--postgres` or CITYHALL_BENCH_DATABASE_URL names a server (a throw-away
database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import aiosmtplib
import uvloop
from sqlalchemy import func, insert, select

from services.alert_mail.app import create_app
from services.alert_mail.delivery.render import Renderer
from services.alert_mail.models import (
    Alert,
    Delivery,
    Subscription,
    SubscriptionCategory,
)
from services.alert_mail.settings import Settings
from services.kit.app import RuntimeOptions
from services.kit.clock import Clock
from tests.support.apps import running
from tests.support.databases import postgres_database
from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.conftest import seed_demo_city

REPO = Path(__file__).resolve().parents[1]
FAILING_EVERY = 20  # 1 in 20 recipients: 5%
CONTENT = {
    "ja": {
        "headline": "【緊急】市内全域に避難指示（警戒レベル4）",
        "body": (
            "大雨により河川の水位が上昇し、氾濫のおそれがあります。"
            "市内全域に避難指示を発令しました。\n"
            "危険な場所から全員避難してください。"
        ),
        "instruction": "指定避難所（各小中学校・公民館）へ直ちに避難してください。",
    },
    "en": {
        "headline": "Evacuation order for the whole city (level 4)",
        "body": "Rivers are rising after heavy rain and may overflow.",
        "instruction": "Go to your designated shelter now.",
    },
}


def failing(n: int) -> bool:
    return n % FAILING_EVERY == 0


def healthy_count(subscribers: int, *, degraded: bool) -> int:
    """The mails the sink accepts: every one, or all but the failing 5% in a degraded run."""
    if not degraded:
        return subscribers
    return subscribers - sum(1 for n in range(subscribers) if failing(n))


def address(n: int) -> str:
    return f"resident{n:06d}@example.jp"


# --- the sink, in its own process ----------------------------------------------------------


class CountingHandler:
    def __init__(self, accepted: Synchronized[int], refused: Synchronized[int], degraded: Any):
        self.accepted = accepted
        self.refused = refused
        self.degraded = degraded

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.degraded.value and failing(int(address[8:14])):
            self.refused.value += 1
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accepted.value += 1
        return "250 OK"


def sink_main(port: Any, accepted: Any, refused: Any, degraded: Any, ready: Any) -> None:
    from aiosmtpd.smtp import SMTP

    async def main() -> None:
        handler = CountingHandler(accepted, refused, degraded)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="sink", decode_data=False, ident="bench sink"),
            "127.0.0.1",
            0,
        )
        port.value = server.sockets[0].getsockname()[1]
        ready.set()
        await asyncio.Event().wait()

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    uvloop.run(main())


@dataclass
class Sink:
    process: multiprocessing.process.BaseProcess
    port: int
    accepted: Any
    refused: Any
    degraded: Any

    def reset(self, *, degraded: bool) -> None:
        self.accepted.value = 0
        self.refused.value = 0
        self.degraded.value = 1 if degraded else 0

    async def wait_for(self, count: int, *, started: float) -> float:
        """Seconds from `started` until the sink accepted `count` messages (the count lives in
        the sink process's shared memory: polling it is all there is)."""
        async with asyncio.timeout(600):
            while self.accepted.value < count:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        return time.perf_counter() - started

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().split()
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def start_sink() -> Sink:
    context = multiprocessing.get_context("fork")  # before any event loop or thread exists
    port, accepted, refused = (context.Value("i", 0, lock=False) for _ in range(3))
    degraded = context.Value("i", 0, lock=False)
    ready = context.Event()
    process = context.Process(
        target=sink_main, args=(port, accepted, refused, degraded, ready), daemon=True
    )
    process.start()
    if not ready.wait(30):
        raise RuntimeError("the sink did not start")
    return Sink(process, port.value, accepted, refused, degraded)


# --- the bare sender ---------------------------------------------------------------------


async def bare_send(sink: Sink, messages: list[tuple[str, bytes]], connections: int) -> float:
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port) for _ in range(connections)]
    for client in clients:
        await client.connect()
    pending = iter(messages)
    sender = "alert@city.demo.example.jp"

    async def run(client: aiosmtplib.SMTP) -> None:
        for to, data in pending:
            with suppress(aiosmtplib.SMTPRecipientsRefused):
                await client.sendmail(sender, [to], data)

    started = time.perf_counter()
    await asyncio.gather(*(run(c) for c in clients))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.quit()
    return elapsed


def prebuilt(settings: Settings, count: int) -> list[tuple[str, bytes]]:
    """The service's own rendering of the alert, one message per recipient, built up front."""
    renderer = Renderer.from_settings(settings)
    now = Clock().now()
    alert = Alert(
        id="alt_BENCH0000000000000000000000",
        status="sending",
        category="disaster",
        districts=[],
        severity="Extreme",
        urgency="Immediate",
        certainty="Observed",
        content=CONTENT,
        department="bosai",
        fingerprint="b" * 64,
        created_by="bench",
        created_at=now,
        updated_at=now,
        sent_at=now,
        expires_at=now + timedelta(hours=6),
    )
    parts = renderer.alert_parts(alert, "ja", {}, date=now)
    return [
        (
            address(n),
            renderer.alert_mail(
                parts, subscription_id=f"sub_{n:06d}", email=address(n), link_version=0
            ),
        )
        for n in range(count)
    ]


# --- the service ---------------------------------------------------------------------------


async def seed_subscribers(app: Any, count: int) -> None:
    db = app.state.runtime.db
    now = Clock().now()
    rows = [
        {
            "id": f"sub_{n:06d}",
            "email": address(n),
            "status": "active",
            "language": "en" if n % 50 == 0 else "ja",
            "plain_japanese": False,
            "owner": None,
            "hard_bounces": 0,
            "link_version": 0,
            "created_at": now,
            "updated_at": now,
            "confirmed_at": now,
        }
        for n in range(count)
    ]
    for start in range(0, count, 8000):
        chunk = rows[start : start + 8000]
        async with db.session() as session:
            await session.exec(insert(Subscription), params=chunk)
            await session.exec(
                insert(SubscriptionCategory),
                params=[{"subscription_id": r["id"], "category": "disaster"} for r in chunk],
            )


async def delivered_count(app: Any) -> int:
    db = app.state.runtime.db
    async with db.session(write=False) as session:
        found = await session.exec(
            select(func.count()).select_from(Delivery).where(Delivery.status == "delivered")  # type: ignore[arg-type]
        )
        return int(found.one()[0])


async def publish(client: Any, tokens: TokenFactory) -> str:
    headers = tokens.staff(
        "stf_bench", "alert_publisher", "emergency_publisher", department="bosai"
    )
    now = Clock().now()
    body = {
        "category": "disaster",
        "districts": [],
        "severity": "Extreme",
        "urgency": "Immediate",
        "certainty": "Observed",
        "content": CONTENT,
        "expires_at": (now + timedelta(hours=6)).isoformat(),
    }
    created = await client.post("/v1/alerts", json=body, headers=headers)
    assert created.status_code == 201, created.text
    alert_id = str(created.json()["id"])
    sent = await client.post(f"/v1/alerts/{alert_id}/publish-emergency", headers=headers)
    assert sent.status_code == 200, sent.text
    return alert_id


@dataclass
class Run:
    label: str
    seconds_to_sink: float  # publish request → the sink holds every healthy mail
    seconds_recorded: float  # → every healthy delivery recorded `delivered`
    publish_seconds: float  # the publish request itself (fan-out included)
    sink_cpu: float


def start_worker_processes(db_url: str, sink: Sink, count: int) -> list[Any]:
    import subprocess

    env = {
        **os.environ,
        "ALERT_MAIL_DATABASE_URL": db_url,
        "ALERT_MAIL_SMTP_HOST": "127.0.0.1",
        "ALERT_MAIL_SMTP_PORT": str(sink.port),
    }
    return [
        subprocess.Popen(
            [sys.executable, "-m", "services.alert_mail.worker", "--name", f"bench{n}"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(count)
    ]


async def fan_out_run(
    label: str,
    db_url: str,
    sink: Sink,
    subscribers: int,
    *,
    degraded: bool,
    worker_processes: int = 0,
) -> Run:
    tokens = TokenFactory()
    settings = Settings(
        database_url=db_url,
        environment="test",
        log_access=False,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        workers_in_process=0 if worker_processes else 1,
    )
    app = create_app(settings, RuntimeOptions(key_source=tokens.key_source()))
    healthy = healthy_count(subscribers, degraded=degraded)
    async with running(app) as client:
        await seed_demo_city(app)
        await seed_subscribers(app, subscribers)
        workers = start_worker_processes(db_url, sink, worker_processes)
        try:
            await asyncio.sleep(2 if workers else 0.2)  # let worker processes connect
            sink.reset(degraded=degraded)
            cpu_before = sink.cpu_seconds()
            started = time.perf_counter()
            await publish(client, tokens)
            publish_seconds = time.perf_counter() - started
            to_sink = await sink.wait_for(healthy, started=started)
            sink_cpu = sink.cpu_seconds() - cpu_before
            while await delivered_count(app) < healthy:  # noqa: ASYNC110 - another process
                await asyncio.sleep(0.05)
            recorded = time.perf_counter() - started
        finally:
            for process in workers:
                process.terminate()
            for process in workers:
                process.wait(15)
    return Run(label, to_sink, recorded, publish_seconds, sink_cpu)


@asynccontextmanager
async def database(kind: str, server: str | None) -> AsyncIterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="cityhall-fanout-") as directory:
            yield f"sqlite+aiosqlite:///{directory}/alert_mail.db"
        return
    async with postgres_database(server, prefix="cityhall_bench") as url:
        yield url


def cpu_model() -> str:
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


async def main(args: argparse.Namespace, sink: Sink) -> None:
    count = args.subscribers
    connections = Settings().smtp_pool_size
    print(
        f"alert_mail fan-out, {count} subscribers, {os.cpu_count()} CPUs ({cpu_model()}),"
        f" {connections} SMTP connections, sink pid {sink.process.pid}"
    )
    messages = prebuilt(Settings(), count)
    rows: list[tuple[str, float, float, float, str]] = []

    backends: list[tuple[str, str | None]] = [] if args.no_sqlite else [("sqlite", None)]
    server = args.postgres or os.environ.get("CITYHALL_BENCH_DATABASE_URL")
    if server:
        backends.append(("postgresql", server))
    variants: list[tuple[str, int]] = [("in-process workers", 0)]
    if not args.skip_processes:
        variants.append(("1 worker process", 1))

    async def bare_rate() -> float:
        """The sink's capacity right now (the machine's load moves it, so every fan-out run is
        compared with a bare run made just before it)."""
        sample = messages[: min(count, args.bare_sample)]
        sink.reset(degraded=False)
        seconds = await bare_send(sink, sample, connections)
        rows.append(
            ("bare aiosmtplib", seconds, seconds, len(sample) / seconds, f"{len(sample)} mails")
        )
        return len(sample) / seconds

    # The first tens of thousands of mails of a fresh sink and client are markedly slower
    # (measured: the first bare run at ~1,950 mails/s, later ones at ~3,400); warm both up
    # so that the first fan-out run is not compared with a cold start.
    sink.reset(degraded=False)
    await bare_send(sink, messages[: min(count, 2 * args.bare_sample)], connections)

    clean_times: dict[str, float] = {}
    for kind, url in backends:
        for variant, processes in variants:
            for degraded in (False, True):
                bare = await bare_rate()
                label = f"{kind}, {variant}, {'5% 4xx' if degraded else 'clean'}"
                async with database(kind, url) as db_url, asyncio.timeout(900):
                    run = await fan_out_run(
                        label, db_url, sink, count, degraded=degraded, worker_processes=processes
                    )
                rate = healthy_count(count, degraded=degraded) / run.seconds_to_sink
                key = f"{kind}/{variant}"
                ratio = f"{rate / bare:.2f}x bare"
                if degraded:
                    ratio += f", healthy 95% in {run.seconds_to_sink / clean_times[key]:.2f}x clean"
                else:
                    clean_times[key] = run.seconds_to_sink
                rows.append(
                    (
                        label,
                        run.seconds_to_sink,
                        run.seconds_recorded,
                        rate,
                        f"{ratio}; publish {run.publish_seconds:.2f} s; sink CPU"
                        f" {run.sink_cpu / run.seconds_to_sink:.0%}",
                    )
                )
                print(f"  {label}: {run.seconds_to_sink:.1f} s to sink, {ratio}", flush=True)

    print()
    print("| run | to sink s | recorded s | mails/s | notes |")
    print("|---|---:|---:|---:|---|")
    for label, to_sink, recorded, rate, note in rows:
        print(f"| {label} | {to_sink:.1f} | {recorded:.1f} | {rate:.0f} | {note} |")
    sink.process.terminate()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=64_000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (asyncpg)")
    parser.add_argument("--skip-processes", action="store_true", help="in-process workers only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL runs only")
    parser.add_argument("--bare-sample", type=int, default=20_000, help="mails per bare run")
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    arguments = parse()
    uvloop.run(main(arguments, start_sink()))
