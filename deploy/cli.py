"""`cityhall`: run the suite locally and poke at it.

    cityhall up [--single-process] [--host H] [--var-dir DIR] [--no-seed]
    cityhall migrate | seed
    cityhall worker [--lanes N]      (another alert_mail sending worker beside `up`)
    cityhall token --kind staff --sub stf_1 --role admin
    cityhall accounts | totp USER    (the demo identities; a demo staff user's one-time code)
    cityhall clock [show | advance SECONDS | travel-to ISO8601]
    cityhall jpki issue-card --name NAME --out FILE

Every app keeps its own environment prefix (`GATEWAY_PORT`, `PAYMENTS_MOCK_PORT`, ...); the
launcher's own settings use `CITYHALL_` (`CITYHALL_VAR_DIR`, `CITYHALL_SMTP_PORT`,
`CITYHALL_MAILBOX_PORT`, `CITYHALL_STARTUP_TIMEOUT_SECONDS`, ...).
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deploy.audit_cli import audit_app
from deploy.jpki_cmd import jpki_app
from deploy.lottery_cli import lottery_app
from services.kit.assurance import Acr

if TYPE_CHECKING:  # each verb imports what it runs: `cityhall --help` stays well under a second
    import httpx

    from deploy.stack import Stack

app = typer.Typer(
    name="cityhall",
    help="The cityhall suite (電子市役所): run it, seed it, mint dev tokens, move its clock.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
clock_app = typer.Typer(help="Read or move the simulation clock of every service at once.")
app.add_typer(clock_app, name="clock")
app.add_typer(jpki_app, name="jpki")
app.add_typer(audit_app, name="audit")
app.add_typer(lottery_app, name="lottery")

VarDir = Annotated[
    Path | None,
    typer.Option("--var-dir", help="databases, keys and state (default ./var, CITYHALL_VAR_DIR)"),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"cityhall: {message}", err=True)
    return typer.Exit(code)


def _stack(var_dir: Path | None, host: str | None = None) -> Stack:
    from pydantic import ValidationError

    from deploy.stack import resolve_stack

    try:
        return resolve_stack(var_dir=var_dir, host=host)
    except ValidationError as exc:
        raise fail(f"invalid settings:\n{exc}") from None


# --- up / migrate / seed -------------------------------------------------------------------


@app.command()
def up(
    single_process: Annotated[
        bool, typer.Option("--single-process", help="run every app in this one process")
    ] = False,
    host: Annotated[
        str | None, typer.Option(help="interface every app listens on (default 127.0.0.1)")
    ] = None,
    var_dir: VarDir = None,
    seed: Annotated[
        bool, typer.Option("--seed/--no-seed", help="seed demo data on first start")
    ] = True,
) -> None:
    """Start the gateway, the four services and the dev mail sink; Ctrl-C stops them all."""
    from deploy.launcher import LaunchError, check_ports_free, run_processes, run_single_process
    from deploy.serve import configure_logging, run_main

    stack = _stack(var_dir, host)
    configure_logging()
    try:
        check_ports_free(stack.apps)
    except LaunchError as exc:
        raise fail(str(exc)) from None
    runner = run_single_process if single_process else run_processes
    try:
        code = run_main(runner(stack, seed=seed, out=sys.stdout))
    except LaunchError as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(code)


@app.command()
def migrate(var_dir: VarDir = None) -> None:
    """Bring every database (gateway and services) to the newest schema; start nothing."""
    from deploy.provision import migrate_all
    from deploy.serve import run_main

    stack = _stack(var_dir)
    done = run_main(migrate_all(stack))
    typer.echo(f"migrated: {', '.join(done)}")


@app.command()
def seed(var_dir: VarDir = None) -> None:
    """Upsert the demo city's data into every service's database (idempotent)."""
    from deploy.provision import seed_all
    from deploy.serve import run_main

    stack = _stack(var_dir)
    outcomes = run_main(seed_all(stack))
    for outcome in outcomes:
        typer.echo(f"{outcome.service:<18}{outcome.count} rows")


@app.command()
def worker(
    var_dir: VarDir = None,
    lanes: Annotated[int, typer.Option(min=1, max=64, help="claim/send/record cycles")] = 2,
    name: Annotated[str | None, typer.Option(help="this worker's name in deliveries")] = None,
) -> None:
    """Run one more alert_mail sending worker against the suite's database (beside `up`).

    Workers claim disjoint batches, so any number may run; SIGTERM finishes what is in hand."""
    from deploy.serve import configure_logging, run_main
    from services.alert_mail.settings import Settings as AlertMailSettings
    from services.alert_mail.worker import serve

    settings = _stack(var_dir).services["alert_mail"]
    assert isinstance(settings, AlertMailSettings)
    configure_logging()
    run_main(serve(settings, lanes=lanes, name=name))


# --- tokens --------------------------------------------------------------------------------


class Kind(StrEnum):
    citizen = "citizen"
    business = "business"
    staff = "staff"
    service = "service"


def _gateway_settings(var_dir: Path | None) -> Any:
    from pydantic import ValidationError

    from gateway.settings import GatewaySettings

    try:
        overrides: dict[str, Any] = {} if var_dir is None else {"var_dir": var_dir}
        settings = GatewaySettings(**overrides)
    except ValidationError as exc:
        raise fail(f"invalid gateway settings:\n{exc}") from None
    if not settings.simulation or settings.environment == "production":
        raise fail(
            "refusing: dev tokens and clock moves need simulation mode "
            "(GATEWAY_SIMULATION=true, not GATEWAY_ENVIRONMENT=production)"
        )
    return settings


def _mint(
    settings: Any,
    *,
    create_keys: bool,
    sub: str,
    kind: str,
    roles: list[str],
    scopes: list[str],
    department: str | None,
    acr: str | None,
    ttl: int,
) -> str:
    from gateway.keys import KeyStore
    from gateway.tokens import issue_access_token

    path: Path = settings.keys_path
    if not path.exists() and not create_keys:
        raise fail(f"no signing keys at {path}: is the gateway running with this var dir?")
    if not path.exists():
        typer.echo(f"cityhall: created signing keys at {path}", err=True)
    keystore = KeyStore.load_or_create(path)
    return issue_access_token(
        keystore,
        sub=sub,
        kind=kind,  # type: ignore[arg-type]  # a Kind value
        roles=roles,
        scopes=scopes,
        department=department,
        acr=acr,
        ttl=ttl,
        issuer=settings.issuer,
        audience=settings.audience,
        now=datetime.now(UTC),
    )


@app.command()
def token(
    kind: Annotated[Kind, typer.Option(help="principal kind")],
    sub: Annotated[str, typer.Option(help="subject id, e.g. cit_demo or stf_demo")],
    role: Annotated[list[str] | None, typer.Option(help="a role (repeatable)")] = None,
    scope: Annotated[list[str] | None, typer.Option(help="a scope (repeatable)")] = None,
    department: Annotated[str | None, typer.Option(help="staff department code")] = None,
    acr: Annotated[
        Acr | None,
        typer.Option(help="assurance level (default for staff: mfa, a login with the code)"),
    ] = None,
    ttl: Annotated[int, typer.Option(min=30, max=86_400, help="lifetime in seconds")] = 900,
    var_dir: VarDir = None,
) -> None:
    """Print a dev access token signed with the gateway's keys (simulation mode only)."""
    settings = _gateway_settings(var_dir)
    if acr is None and kind is Kind.staff:
        acr = Acr.MFA  # as the gateway's staff tokens: approvals and audit reads need it
    typer.echo(
        _mint(
            settings,
            create_keys=True,
            sub=sub,
            kind=kind.value,
            roles=role or [],
            scopes=scope or [],
            department=department,
            acr=acr.value if acr else None,
            ttl=ttl,
        )
    )


# --- demo identities -----------------------------------------------------------------------


@app.command()
def accounts(var_dir: VarDir = None) -> None:
    """List the demo identities: e-mail, password, roles, TOTP secret, card file, demo client
    (simulation mode only)."""
    from deploy.demo_identities import describe

    typer.echo(describe(_demo_settings(var_dir)))


@app.command()
def totp(
    user: Annotated[str, typer.Argument(help="a demo staff user (admin, bosai, ...) or e-mail")],
    var_dir: VarDir = None,
) -> None:
    """Print the current one-time code of a demo staff account (simulation mode only)."""
    from deploy.demo_identities import current_totp

    _demo_settings(var_dir)
    try:
        code, remaining = current_totp(user)
    except LookupError as exc:
        raise fail(str(exc)) from None
    typer.echo(code)
    typer.echo(f"cityhall: valid for {remaining} more s; a code works once per account", err=True)


def _demo_settings(var_dir: Path | None) -> Any:
    settings = _gateway_settings(var_dir)
    if not settings.demo_identities:
        raise fail("refusing: demo identities are off (GATEWAY_DEMO_IDENTITIES=false)")
    return settings


# --- clock ---------------------------------------------------------------------------------

GatewayUrl = Annotated[
    str | None, typer.Option("--url", help="the gateway (default from GATEWAY_HOST/PORT)")
]


# The gateway reports every clock in its answer to a move, and has no read of its own (a GET
# is 405): showing the clocks is a move by zero seconds.
SHOW_CLOCKS: dict[str, Any] = {"advance_seconds": 0}


def _clock_call(var_dir: Path | None, url: str | None, body: dict[str, Any]) -> None:
    import httpx

    from deploy.stack import base_url

    settings = _gateway_settings(var_dir)
    admin = _mint(
        settings,
        create_keys=False,
        sub="stf_cli",
        kind="staff",
        roles=["admin"],
        scopes=[],
        department="joho",
        acr=Acr.MFA,
        ttl=60,
    )
    gateway = (url or base_url(settings.host, settings.port)).rstrip("/")
    try:
        answer = asyncio.run(_request_clock(gateway, admin, body))
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach the gateway at {gateway}: {exc}") from None
    if answer.status_code >= 400:
        raise fail(f"the gateway answered {answer.status_code}: {answer.text}")
    typer.echo(json.dumps(answer.json(), ensure_ascii=False, indent=2))


async def _request_clock(gateway: str, admin: str, body: dict[str, Any]) -> httpx.Response:
    import httpx

    headers = {"Authorization": f"Bearer {admin}"}
    async with httpx.AsyncClient(base_url=gateway, headers=headers, timeout=30) as client:
        return await client.post("/sim/clock", json=body)


@clock_app.callback(invoke_without_command=True)
def clock(ctx: typer.Context, var_dir: VarDir = None, url: GatewayUrl = None) -> None:
    """Without a subcommand: show every service's clock."""
    ctx.obj = {"var_dir": var_dir, "url": url}
    if ctx.invoked_subcommand is None:
        _clock_call(var_dir, url, SHOW_CLOCKS)


def _group_option(ctx: typer.Context, name: str, value: Any) -> Any:
    """An option given before the subcommand (`cityhall clock --var-dir X show`)."""
    if value is not None:
        return value
    return (ctx.obj or {}).get(name)


@clock_app.command("show")
def clock_show(ctx: typer.Context, var_dir: VarDir = None, url: GatewayUrl = None) -> None:
    """Show the gateway's and every service's simulated time."""
    _clock_call(_group_option(ctx, "var_dir", var_dir), _group_option(ctx, "url", url), SHOW_CLOCKS)


@clock_app.command("advance")
def clock_advance(
    ctx: typer.Context,
    seconds: Annotated[float, typer.Argument(min=0, help="how far to move forward")],
    var_dir: VarDir = None,
    url: GatewayUrl = None,
) -> None:
    """Move every clock forward by SECONDS."""
    body = {"advance_seconds": seconds}
    _clock_call(_group_option(ctx, "var_dir", var_dir), _group_option(ctx, "url", url), body)


@clock_app.command("travel-to")
def clock_travel_to(
    ctx: typer.Context,
    moment: Annotated[
        str, typer.Argument(help="ISO 8601 with an offset, e.g. 2026-04-01T09:00+09:00")
    ],
    var_dir: VarDir = None,
    url: GatewayUrl = None,
) -> None:
    """Move every clock forward to MOMENT."""
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        raise fail(f"not an ISO 8601 time: {moment}") from None
    if parsed.tzinfo is None:
        raise fail("give the time with an offset, e.g. +09:00")
    body = {"travel_to": parsed.isoformat()}
    _clock_call(_group_option(ctx, "var_dir", var_dir), _group_option(ctx, "url", url), body)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
