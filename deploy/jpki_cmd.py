"""`cityhall jpki issue-card`: a mock My Number card from the gateway's mock JPKI CA under the
var dir (the CA is created there on first use): the login key + certificate, then the signing
key + certificate carrying fictional 基本4情報 (name, address, birth date, sex)."""

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
    address: Annotated[str | None, typer.Option(help="住所 (fictional by default)")] = None,
    birth_date: Annotated[str | None, typer.Option(help="生年月日, YYYY-MM-DD")] = None,
    sex: Annotated[str | None, typer.Option(help="male or female")] = None,
) -> None:
    """Write a card file: `gateway.idp.jpki_client.Card.load` logs in with it,
    `gateway.idp.jpki_signing_card.SigningCard.load` signs filings with it."""
    from gateway.idp.jpki import MockCA
    from gateway.idp.jpki_signing import fictional_info, issue_card_with_signing
    from gateway.keys import _write_private_file
    from gateway.settings import GatewaySettings

    overrides: dict[str, Any] = {} if var_dir is None else {"var_dir": var_dir}
    settings = GatewaySettings(**overrides)
    if out.exists():
        raise typer.BadParameter(f"{out} exists; not overwriting a card", param_hint="--out")
    if sex not in (None, "male", "female"):
        raise typer.BadParameter("male or female", param_hint="--sex")
    ca = MockCA.load_or_create(settings.jpki_path)
    info = fictional_info(name, address=address, birth_date=birth_date, sex=sex)
    card = issue_card_with_signing(ca, info, not_before=datetime.now(UTC), days=days)
    _write_private_file(out, card.file_text.decode("ascii"))
    typer.echo(
        f"card for {name} (login serial {card.login.serial}, signing serial "
        f"{card.signing.serial}) written to {out}"
    )
