"""The pytest plugin, as a user runs it: `pytester` writes a user's test file into a fresh
directory (no conftest, pytest-asyncio in its default strict mode) and runs pytest on it in a
subprocess, where the installed entry point loads the plugin and each fixture works against
the real suite started for that run."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.databases import postgres_server_url

pytest_plugins = ["pytester"]

USER_TESTS = """
from datetime import timedelta

import aiosmtplib
import pytest


@pytest.mark.asyncio
async def test_citizen_and_staff_log_in(cityhall_login):
    taro = await cityhall_login("taro")
    assert (await taro.get("/auth/me")).json()["kind"] == "citizen"
    kacho = await cityhall_login("shimin-kacho")
    me = (await kacho.get("/auth/me")).json()
    assert me["kind"] == "staff" and "approver" in me["roles"], me
    # A second client as the same staff member reuses the session's login (a code is
    # accepted once per 30 s), and still works.
    again = await cityhall_login("shimin-kacho")
    assert (await again.get("/auth/me")).status_code == 200


@pytest.mark.asyncio
async def test_a_client_logged_out_by_the_test_logs_in_again(cityhall_login):
    bosai = await cityhall_login("bosai")
    assert (await bosai.post("/auth/logout")).status_code == 204
    assert (await bosai.get("/v1/alerts")).status_code == 200


@pytest.mark.asyncio
async def test_the_demo_client_with_narrow_scopes(cityhall_login):
    app = await cityhall_login("demo-app", scopes=["payments:read"])
    me = (await app.get("/auth/me")).json()
    assert me["scopes"] == ["payments:read"], me


@pytest.mark.asyncio
async def test_mail_is_waited_for_by_address_and_subject(cityhall_http, cityhall_mailbox):
    for address in ("first@example.jp", "second@example.jp"):
        body = {"email": address, "password": "a long demo passphrase", "display_name": "市民"}
        assert (await cityhall_http.post("/auth/register", json=body)).status_code == 202
    mail = await cityhall_mailbox.wait_for(to="second@example.jp")
    assert "second@example.jp" in mail.to and mail.links
    same = await cityhall_mailbox.wait_for(to="second@example.jp", subject=mail.subject[:4])
    assert same.id == mail.id
    with pytest.raises(AssertionError, match="0 of 1 mails"):
        await cityhall_mailbox.wait_for(to="second@example.jp", subject="無い件名", within=0.5)


@pytest.mark.asyncio
async def test_mail_of_earlier_tests_is_not_seen(cityhall_mailbox):
    assert await cityhall_mailbox.messages(to="second@example.jp") == []


@pytest.mark.asyncio
async def test_an_address_bounces_at_the_sink(cityhall_suite, cityhall_mailbox):
    await cityhall_mailbox.bounce("gone@example.jp")

    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(
            b"Subject: x\\r\\n\\r\\nx",
            sender="a@example.jp",
            recipients=["gone@example.jp"],
            hostname="127.0.0.1",
            port=cityhall_suite.smtp_port,
        )
    [gone] = refused.value.recipients
    assert (gone.recipient, gone.code) == ("gone@example.jp", 550)


@pytest.mark.asyncio
async def test_the_clock_moves_every_service(cityhall_clock, cityhall_login):
    before = await cityhall_clock.now()
    moved = await cityhall_clock.advance(timedelta(hours=2))
    assert moved - before >= timedelta(hours=2)
    later = await cityhall_clock.travel_to(moved + timedelta(days=3))
    assert later >= moved + timedelta(days=3)
    admin = await cityhall_login("admin")
    services = (await admin.get("/sim/clock")).json()["services"]
    assert len(services) == 4
    assert all(s["body"]["offset_seconds"] >= 3 * 86400 for s in services.values()), services
    assert (await cityhall_clock.tick())["services"]


@pytest.mark.asyncio
async def test_a_failing_receiver_gets_the_event_again(
    cityhall_login, cityhall_payments, cityhall_webhooks
):
    app = await cityhall_login("demo-app")
    endpoint = await cityhall_webhooks.register(app, event_types=["payment.paid"])
    cityhall_webhooks.fail(503, times=1)
    body = {"amount": 500, "method": "konbini", "description": "手数料"}
    payment = (await app.post("/v1/payments", json=body, headers={"Idempotency-Key": "k1"})).json()

    await cityhall_payments.pay_at_store(payment, chain="familymart")
    first = await cityhall_webhooks.wait_for("payment.paid")
    assert first.answered == 503 and first.verified
    deliveries = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"
    listed = (await app.get(deliveries, params={"event_type": "payment.paid"})).json()["items"]
    (delivery,) = [d for d in listed if d["event_id"] == first.webhook_id]
    assert (await app.post(f"{deliveries}/{delivery['id']}/redeliver")).status_code == 202
    first, again = await cityhall_webhooks.wait_for_all(2, type="payment.paid")
    assert again.answered == 204 and again.webhook_id == first.webhook_id and again.verified


@pytest.mark.asyncio
async def test_cards_decline_and_payments_expire(cityhall_login, cityhall_payments):
    app = await cityhall_login("demo-app")
    card = {"number": cityhall_payments.cards.insufficient_funds}
    body = {"amount": 800, "method": "card", "description": "使用料", "card": card}
    declined = (await app.post("/v1/payments", json=body, headers={"Idempotency-Key": "c1"})).json()
    assert declined["card"]["last_error"]["decline_code"] == "insufficient_funds", declined
    again = await cityhall_payments.decline_card(declined["id"], reason="declined")
    assert again["card"]["last_error"]["decline_code"] == "generic_decline", again

    body = {"amount": 800, "method": "konbini", "description": "使用料"}
    slip = (await app.post("/v1/payments", json=body, headers={"Idempotency-Key": "c2"})).json()
    assert (await cityhall_payments.expire(slip["id"]))["status"] == "expired"
    assert (await cityhall_payments.pay_late(slip["id"]))["late"] is True


def test_the_demo_card_file_is_there(cityhall_suite):
    assert cityhall_suite.card_path("hanako").is_file()
"""


@pytest.fixture(autouse=True)
def _plugin_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test says which mode and database it runs (CI sets the database server)."""
    monkeypatch.delenv("CITYHALL_PYTEST_MODE", raising=False)
    monkeypatch.delenv("CITYHALL_PYTEST_DATABASE_SERVER", raising=False)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=USER_TESTS)
    cache = Path(__file__).resolve().parents[3] / ".pytest_cache"
    return pytester.runpytest_subprocess("-p", "no:randomly", "-o", f"cache_dir={cache}", *args)


def test_every_fixture_works_against_the_suite_in_process(pytester: pytest.Pytester) -> None:
    result = _run(pytester)
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(["cityhall: suite ready in * s (in-process, *"])


@pytest.mark.postgres
@pytest.mark.skipif(postgres_server_url() is None, reason="needs CITYHALL_TEST_POSTGRES_URL")
def test_every_fixture_works_on_postgresql(pytester: pytest.Pytester) -> None:
    server = postgres_server_url()
    assert server is not None
    result = _run(pytester, "--cityhall-database-server", server)
    result.assert_outcomes(passed=10)


@pytest.mark.e2e
def test_every_fixture_works_against_separate_processes(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--cityhall-processes")
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(["cityhall: suite ready in * s (processes, *"])


HOLDING_TEST = """
import sys

def test_holds_the_suite_until_killed(cityhall_suite):
    print("cityhall var dir:", cityhall_suite.var_dir, flush=True)
    sys.stdin.readline()  # until the run is killed: stdin stays open and silent
"""
GONE_WITHIN_SECONDS = 60.0  # the launcher notices in 0.5 s, then stops six processes


def _wait_gone(pids: list[int], within: float) -> list[int]:
    """The pids still running after `within` seconds; each exit is waited for on a pidfd
    (readable when that process ends, child of ours or not)."""
    deadline = time.monotonic() + within
    left: list[int] = []
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue  # already gone
        try:
            remaining = max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                left.append(pid)
        finally:
            os.close(fd)
    return left


@pytest.mark.e2e
@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waits on pidfds (Linux)")
def test_a_test_run_killed_with_sigkill_leaves_no_suite_behind(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_hold=HOLDING_TEST)
    cache = Path(__file__).resolve().parents[3] / ".pytest_cache"
    run = pytester.popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-s",
            "-p",
            "no:randomly",
            "-o",
            f"cache_dir={cache}",
            "--cityhall-processes",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pids: list[int] = []
    try:
        assert run.stdout is not None
        seen: list[str] = []
        for line in run.stdout:  # the suite is up once the test prints its var dir
            seen.append(line)
            if "cityhall var dir:" in line:  # after pytest's "test_hold.py "
                break
        else:
            raise AssertionError("the test run ended before the suite was up:\n" + "".join(seen))
        var_dir = Path(line.split("cityhall var dir:", 1)[1].strip())
        up = json.loads((var_dir / "cityhall-up.json").read_text())
        pids = [up["launcher"], *up["children"].values()]

        run.send_signal(signal.SIGKILL)
        run.wait()

        assert _wait_gone(pids, GONE_WITHIN_SECONDS) == [], up
        assert not (var_dir / "cityhall-up.json").exists()  # the launcher stopped in order
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for pid in _wait_gone(pids, 0):  # only if the test failed: leave nothing running
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_the_suite_starts_only_when_a_fixture_asks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_nothing_of_cityhall():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert not re.search("cityhall: suite ready", result.stdout.str())
    assert "cityhall_login" in pytester.runpytest_subprocess("--fixtures").stdout.str()


def test_loading_the_plugin_imports_nothing_of_the_suite() -> None:
    probe = (
        "import sys, deploy.testing.plugin\n"
        "heavy = ('fastapi', 'sqlalchemy', 'httpx', 'gateway', 'services', 'uvicorn')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "[]"
