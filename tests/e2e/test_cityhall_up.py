"""`cityhall up` starts the whole suite as real processes (or in one process), serves real
data through the gateway, delivers mail to its SMTP sink, and stops without leaving any
process behind."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
import pytest
from typer.testing import CliRunner

from deploy.cli import app as cli
from tests.e2e.conftest import Launch, RunningStack, alive
from tests.e2e.mailbox import link_in, mail_to

pytestmark = pytest.mark.e2e

SUBJECT = "【デモ市】避難所開設のお知らせ"
RESIDENT = "e2e-hanako@example.jp"
HEADLINE = "中央地区に避難指示を発令しました"
APPS = {"gateway", "e_application", "facility_booking", "alert_mail", "payments_mock", "mailsink"}


async def _all_procedures(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(20):
        params: dict[str, Any] = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        answer = await client.get("/v1/procedures", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    pytest.fail("procedures never ran out of pages")


async def _check_each_service_through_the_gateway(stack: RunningStack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=10, trust_env=False) as client:
        procedures = await _all_procedures(client)
        assert len(procedures) >= 30
        assert len({p["code"] for p in procedures}) == len(procedures)  # pages do not overlap
        assert "粗大ごみ収集申込" in {p["name_ja"] for p in procedures}

        facilities = (await client.get("/v1/facilities")).json()["items"]
        assert {"中央公民館", "総合体育館"} <= {f["name_ja"] for f in facilities}
        rounds = (await client.get("/v1/lotteries")).json()["items"]  # the seed opened one
        assert [(r["facility_code"], r["accepting_entries"]) for r in rounds] == [
            ("hokubu-kominkan", True)
        ]

        categories = (await client.get("/v1/categories")).json()["items"]
        assert "災害情報" in {c["name_ja"] for c in categories}

        methods = (await client.get("/v1/payment-methods")).json()["items"]
        assert {"コンビニ払い", "ペイジー", "クレジットカード"} <= {m["name_ja"] for m in methods}


async def _deliver_and_read_back_mail(stack: RunningStack) -> None:
    message = EmailMessage()
    message["From"] = "デモ市役所 <no-reply@city.demo.example.jp>"
    message["To"] = "e2e-taro@example.jp"
    message["Subject"] = SUBJECT
    message.set_content("中央公民館を避難所として開設しました。")
    await aiosmtplib.send(message, hostname="127.0.0.1", port=stack.ports.smtp, timeout=10)
    async with httpx.AsyncClient(base_url=stack.mailbox_url, timeout=10, trust_env=False) as client:
        listing = (await client.get("/api/messages", params={"to": "e2e-taro@example.jp"})).json()
        assert [m["subject"] for m in listing["messages"]] == [SUBJECT]
        detail = (await client.get(f"/api/messages/{listing['messages'][0]['id']}")).json()
        assert "避難所として開設しました" in detail["text"]
        assert SUBJECT in (await client.get("/")).text


def _staff_token(stack: RunningStack, sub: str, role: str) -> dict[str, str]:
    minted = CliRunner().invoke(
        cli,
        [
            *("token", "--kind", "staff", "--sub", sub, "--role", role),
            *("--department", "bosai", "--var-dir", str(stack.var_dir)),
        ],
    )
    assert minted.exit_code == 0, minted.output
    return {"Authorization": f"Bearer {minted.output.strip().splitlines()[-1]}"}


async def _alert_reaches_a_confirmed_subscriber(stack: RunningStack) -> None:
    """Sign up, confirm from the mailed link, two staff publish an alert (four eyes), the mail
    arrives with its one-click unsubscribe link, which works; all through the gateway."""
    gateway = httpx.AsyncClient(base_url=stack.gateway_url, timeout=10, trust_env=False)
    mailbox = httpx.AsyncClient(base_url=stack.mailbox_url, timeout=10, trust_env=False)
    async with gateway, mailbox:
        signup = {"email": RESIDENT, "categories": ["disaster"], "districts": ["chuo"]}
        answer = await gateway.post("/v1/subscriptions", json=signup)
        assert answer.status_code == 202, answer.text
        confirmation = await mail_to(mailbox, RESIDENT, "")
        confirm_url = link_in(confirmation["text"], "/v1/subscriptions/confirm")
        assert confirm_url.startswith(stack.gateway_url)
        token = confirm_url.split("token=", 1)[1]
        answer = await gateway.post("/v1/subscriptions/confirm", json={"token": token})
        assert answer.status_code == 200, answer.text

        author = _staff_token(stack, "stf_e2e_author", "alert_publisher")
        approver = _staff_token(stack, "stf_e2e_approver", "approver")
        draft = {
            "category": "disaster",
            "districts": ["chuo"],
            "severity": "Severe",
            "urgency": "Immediate",
            "certainty": "Observed",
            "content": {"ja": {"headline": HEADLINE, "body": "直ちに避難してください。"}},
            "expires_at": (datetime.now(UTC) + timedelta(hours=6)).isoformat(),
        }
        answer = await gateway.post("/v1/alerts", json=draft, headers=author)
        assert answer.status_code == 201, answer.text
        alert_id = answer.json()["id"]
        answer = await gateway.post(f"/v1/alerts/{alert_id}/submit", headers=author)
        assert answer.status_code == 200, answer.text
        answer = await gateway.post(f"/v1/alerts/{alert_id}/approve", headers=approver)
        assert answer.status_code == 200, answer.text
        assert answer.json()["recipients"] == 1

        mail = await mail_to(mailbox, RESIDENT, HEADLINE)
        headers = dict(mail["headers"])
        unsubscribe = headers["List-Unsubscribe"].strip("<>")
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert unsubscribe.startswith(stack.gateway_url)
        answer = await gateway.post(
            unsubscribe.removeprefix(stack.gateway_url),
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 200, answer.text
        cap = await gateway.get(f"/v1/feeds/cap/{alert_id}.xml")
        assert cap.status_code == 200
        assert HEADLINE in cap.text


async def _stop_and_check_nothing_is_left(stack: RunningStack, pids: list[int]) -> float:
    started = time.monotonic()
    code = await stack.interrupt()
    stopped_in = time.monotonic() - started
    assert code == 0, stack.log()
    for _ in range(20):  # reaped by the launcher before it exited; allow the kernel a moment
        if not any(alive(pid) for pid in pids):
            break
        await asyncio.sleep(0.1)
    assert [pid for pid in pids if alive(pid)] == [], stack.log()
    assert not (stack.var_dir / "cityhall-up.json").exists()
    return stopped_in


async def test_cityhall_up_runs_every_app_as_its_own_process(launch: Launch) -> None:
    stack = await launch([])
    ready_in = await stack.wait_ready()

    recorded = stack.pid_file()
    children: dict[str, int] = recorded["children"]  # type: ignore[assignment]
    stack.child_pids = dict(children)
    assert set(children) == APPS
    assert len(set(children.values())) == len(APPS)
    assert stack.process.pid not in children.values()
    assert all(alive(pid) for pid in children.values())
    await stack.wait_for_log(f"http://127.0.0.1:{stack.ports.gateway}/docs")  # the URL table
    assert f"smtp://127.0.0.1:{stack.ports.smtp}" in stack.log()

    await _check_each_service_through_the_gateway(stack)
    await _deliver_and_read_back_mail(stack)
    await _alert_reaches_a_confirmed_subscriber(stack)
    stopped_in = await _stop_and_check_nothing_is_left(stack, list(children.values()))
    print(f"processes: ready in {ready_in:.1f} s, stopped in {stopped_in:.1f} s")


async def test_cityhall_up_single_process(launch: Launch) -> None:
    stack = await launch(["--single-process"])
    ready_in = await stack.wait_ready()
    assert stack.pid_file()["children"] == {}

    await _check_each_service_through_the_gateway(stack)
    await _deliver_and_read_back_mail(stack)
    await _alert_reaches_a_confirmed_subscriber(stack)
    # Each service still listens on its own port too.
    async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
        for name, port in stack.ports.services.items():
            answer = await client.get(f"http://127.0.0.1:{port}/readyz")
            assert answer.json()["service"] == name
    stopped_in = await _stop_and_check_nothing_is_left(stack, [stack.process.pid])
    print(f"single process: ready in {ready_in:.1f} s, stopped in {stopped_in:.1f} s")


async def test_a_child_that_dies_is_named_and_the_others_are_stopped(launch: Launch) -> None:
    stack = await launch(["--no-seed"])
    await stack.wait_ready()
    children: dict[str, int] = stack.pid_file()["children"]  # type: ignore[assignment]
    stack.child_pids = dict(children)

    os.kill(children["alert_mail"], signal.SIGKILL)
    code = await stack.exited()

    assert code == 1
    assert "alert_mail was killed by SIGKILL; stopping the others" in stack.log()
    for _ in range(20):
        if not any(alive(pid) for pid in children.values()):
            break
        await asyncio.sleep(0.1)
    assert [name for name, pid in children.items() if alive(pid)] == [], stack.log()


async def test_a_slow_start_names_what_is_not_ready_with_its_last_lines(launch: Launch) -> None:
    """No machine starts six Python processes in 0.2 s: the timeout is certain to pass first."""
    stack = await launch(["--no-seed"], startup_timeout=0.2)
    code = await stack.exited()
    log = stack.log()
    assert code == 1, log
    assert "startup failed: not healthy after " in log
    named = log.split("not healthy after ", 1)[1].split(" s: ", 1)[1].split(";", 1)[0].split(", ")
    assert named, log
    assert set(named) <= APPS, log
    assert f"last lines of {named[0]}:" in log or f"{named[0]} printed nothing" in log
    assert "CITYHALL_STARTUP_TIMEOUT_SECONDS (now 0;" in log
