"""Every process `cityhall up` starts agrees on where the others are, and the CLI's
migrate/seed/token verbs work without any server running."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import socket
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from deploy.cli import app
from deploy.launcher import LaunchError, check_ports_free, url_table
from deploy.provision import migrations_of
from deploy.stack import MAILSINK, SERVICES, resolve_stack
from gateway.keys import KeyStore
from services.kit.auth import StaticJWKS, TokenVerifier

runner = CliRunner()


def test_every_app_is_told_where_the_others_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_PORT", "18000")
    monkeypatch.setenv("PAYMENTS_MOCK_PORT", "18004")
    monkeypatch.setenv("CITYHALL_SMTP_PORT", "11025")
    stack = resolve_stack(var_dir=tmp_path / "var")

    assert stack.gateway.upstreams["payments_mock"] == "http://127.0.0.1:18004"
    assert stack.gateway.upstreams["e_application"] == "http://127.0.0.1:8001"
    payments = stack.app("payments_mock").env
    assert payments["PAYMENTS_MOCK_PORT"] == "18004"
    assert payments["PAYMENTS_MOCK_GATEWAY_URL"] == "http://127.0.0.1:18000"
    assert payments["PAYMENTS_MOCK_JWKS_URL"] == "http://127.0.0.1:18000/.well-known/jwks.json"
    assert payments["PAYMENTS_MOCK_SMTP_PORT"] == "11025"
    db = tmp_path.resolve() / "var" / "payments_mock.db"
    assert payments["PAYMENTS_MOCK_DATABASE_URL"] == f"sqlite+aiosqlite:///{db}"
    gateway = stack.app("gateway").env
    assert json.loads(gateway["GATEWAY_UPSTREAMS"]) == stack.gateway.upstreams
    assert gateway["GATEWAY_VAR_DIR"] == str(tmp_path.resolve() / "var")
    assert stack.app(MAILSINK).extra_port == 11025


def test_a_wildcard_host_is_reached_on_loopback(tmp_path: Path) -> None:
    stack = resolve_stack(var_dir=tmp_path, host="0.0.0.0")  # noqa: S104
    assert stack.app("alert_mail").env["ALERT_MAIL_HOST"] == "0.0.0.0"  # noqa: S104
    assert stack.services["alert_mail"].gateway_url == "http://127.0.0.1:8000"
    assert stack.gateway.upstreams["alert_mail"] == "http://127.0.0.1:8003"


def test_the_url_table_names_every_endpoint(tmp_path: Path) -> None:
    table = url_table(resolve_stack(var_dir=tmp_path), {"gateway": 4242})
    for expected in (
        "http://127.0.0.1:8000/docs",
        "http://127.0.0.1:8004",
        "http://127.0.0.1:8025/",
        "smtp://127.0.0.1:1025",
        "4242",
    ):
        assert expected in table


def test_a_taken_port_is_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = resolve_stack(var_dir=tmp_path)
        taken = dataclasses.replace(stack.app("gateway"), port=port)
        with pytest.raises(LaunchError, match=f"gateway 127.0.0.1:{port}"):
            check_ports_free([taken])


@pytest.mark.parametrize("package", [f"services.{n}" for n in SERVICES] + ["gateway"])
def test_migrations_are_found_without_importing_the_app(package: str) -> None:
    assert migrations_of(package) == importlib.import_module(f"{package}.app").MIGRATIONS


def test_migrate_and_seed_are_idempotent(tmp_path: Path) -> None:
    first = runner.invoke(app, ["seed", "--var-dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert "e_application     37 rows" in first.output  # the procedures of the catalogue
    # categories, districts, notification templates (with the services' notices), staff groups
    # and their members
    assert "alert_mail        48 rows" in first.output
    assert "facility_booking  7 rows" in first.output  # six facilities and the open lottery
    again = runner.invoke(app, ["seed", "--var-dir", str(tmp_path)])
    assert again.output == first.output
    migrated = runner.invoke(app, ["migrate", "--var-dir", str(tmp_path)])
    assert migrated.exit_code == 0, migrated.output
    assert "gateway, e_application" in migrated.output


def test_a_dev_staff_token_is_a_login_with_the_code_unless_told(tmp_path: Path) -> None:
    base = ["token", "--kind", "staff", "--sub", "stf_1", "--role", "approver"]
    minted = runner.invoke(app, [*base, "--var-dir", str(tmp_path)])
    assert minted.exit_code == 0, minted.output
    claims = jwt.decode(minted.stdout.strip().splitlines()[-1], options={"verify_signature": False})
    assert (claims["acr"], claims["amr"]) == ("mfa", ["pwd", "otp"])
    weaker = runner.invoke(app, [*base, "--acr", "password", "--var-dir", str(tmp_path)])
    claims = jwt.decode(weaker.stdout.strip().splitlines()[-1], options={"verify_signature": False})
    assert (claims["acr"], claims["amr"]) == ("password", ["pwd"])
    citizen = runner.invoke(
        app, ["token", "--kind", "citizen", "--sub", "c", "--var-dir", str(tmp_path)]
    )
    claims = jwt.decode(
        citizen.stdout.strip().splitlines()[-1], options={"verify_signature": False}
    )
    assert "acr" not in claims


def test_a_dev_token_verifies_with_the_gateways_keys(tmp_path: Path) -> None:
    args = "token --kind staff --sub stf_1 --role approver --role staff --department shimin"
    args += " --acr password --ttl 120"
    result = runner.invoke(app, [*args.split(), "--var-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    keystore = KeyStore.load_or_create(tmp_path / "gateway" / "signing-keys.json")
    verifier = TokenVerifier(StaticJWKS(keystore.jwks()), issuer="cityhall", audience="cityhall")
    principal = asyncio.run(verifier.verify(token))
    assert (principal.sub, principal.kind, principal.department) == ("stf_1", "staff", "shimin")
    assert principal.roles == {"approver", "staff"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120


@pytest.mark.parametrize(
    ("variable", "value"),
    [("GATEWAY_SIMULATION", "false"), ("GATEWAY_ENVIRONMENT", "production")],
)
def test_tokens_and_clock_moves_are_refused_outside_simulation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    for args in (
        ["token", "--kind", "citizen", "--sub", "cit_1", "--var-dir", str(tmp_path)],
        ["clock", "advance", "60", "--var-dir", str(tmp_path)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code != 0
        assert not (tmp_path / "gateway" / "signing-keys.json").exists()


def test_the_clock_needs_the_gateways_keys(tmp_path: Path) -> None:
    result = runner.invoke(app, ["clock", "show", "--var-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no signing keys" in result.output


def test_every_app_mails_under_the_one_sender_name_of_the_city(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from email.utils import parseaddr

    from services.alert_mail.delivery.render import Renderer
    from services.alert_mail.settings import Settings as AlertMailSettings

    monkeypatch.setenv("CITYHALL_MAIL_SENDER_NAME", "サンプル市役所")
    stack = resolve_stack(var_dir=tmp_path)
    senders = [stack.gateway.mail_sender, *(s.mail_sender for s in stack.services.values())]
    assert {parseaddr(s)[0] for s in senders} == {"サンプル市役所"}
    for app_process in stack.apps:
        if app_process.name != MAILSINK:
            assert "サンプル市役所" in app_process.env.values()
    alert_mail = stack.services["alert_mail"]
    assert isinstance(alert_mail, AlertMailSettings)
    renderer = Renderer(alert_mail)
    assert parseaddr(renderer.mail_from) == ("サンプル市役所", "alert@city.demo.example.jp")
