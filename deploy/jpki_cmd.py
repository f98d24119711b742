"""`cityhall jpki issue-card`: a mock My Number card (key + certificate) from the gateway's
mock JPKI CA under the var dir (the CA is created there on first use)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

jpki_app = typer.Typer(help="The mock 公的個人認証 (JPKI) CA: issue card files.")


@jpki_app.command("issue-card")
def issue_card(
    name: Annotated[str, typer.Option(help="the holder's name (日本語 allowed)")],
    out: Annotated[Path, typer.Option(help="card file to write (private key + certificate)")],
    days: Annotated[int, typer.Option(min=1, max=3650, help="validity in days")] = 365 * 5,
    var_dir: Annotated[Path | None, typer.Option(help="the suite's var dir")] = None,
) -> None:
    """Write a card file that `gateway.idp.jpki_client.Card.load` reads and signs with."""
    from gateway.idp.jpki import MockCA, write_card
    from gateway.settings import GatewaySettings

    overrides: dict[str, Any] = {} if var_dir is None else {"var_dir": var_dir}
    settings = GatewaySettings(**overrides)
    if out.exists():
        raise typer.BadParameter(f"{out} exists; not overwriting a card", param_hint="--out")
    ca = MockCA.load_or_create(settings.jpki_path)
    card = ca.issue_card(name, not_before=datetime.now(UTC), days=days)
    write_card(card, out)
    typer.echo(f"card for {name} (serial {card.serial}) written to {out}")
