"""`cityhall lottery verify ROUND`: recompute a facility lottery draw from the public API.

Reads the round (commitment, revealed seed, unit tree) and every published entry through the
gateway, with no token, and checks that sha256(seed) is the commitment and that the winners
are exactly those the published rule picks. Exits 0 when the draw checks out, 1 when it does
not, 2 when the round cannot be read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import httpx

lottery_app = typer.Typer(help="Check facility lottery draws (抽選) from the public API.")


@lottery_app.callback()
def lottery() -> None:
    """Facility lottery tools."""


async def fetch_round(
    client: httpx.AsyncClient, round_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The round and all its published entries, read as anyone would (no token)."""
    answer = await client.get(f"/v1/lotteries/{round_id}")
    answer.raise_for_status()
    round_doc: dict[str, Any] = answer.json()
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = await client.get(f"/v1/lotteries/{round_id}/entries", params=params)
        page.raise_for_status()
        body = page.json()
        entries += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return round_doc, entries


async def _fetch(url: str, round_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    import httpx

    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=30) as client:
        return await fetch_round(client, round_id)


@lottery_app.command("verify")
def verify(
    round_id: Annotated[str, typer.Argument(help="the round id, lot_...")],
    url: Annotated[
        str, typer.Option("--url", help="the gateway's base URL")
    ] = "http://127.0.0.1:8000",
) -> None:
    """Recompute the draw of ROUND and compare it with the published result."""
    import asyncio

    import httpx

    from services.facility_booking.domain.lottery_draw import verify as check

    try:
        round_doc, entries = asyncio.run(_fetch(url, round_id))
    except httpx.HTTPError as exc:
        typer.echo(f"cityhall: cannot read round {round_id} at {url}: {exc}", err=True)
        raise typer.Exit(2) from None
    verdict = check(round_doc.get("seed"), round_doc["commitment"], round_doc["units"], entries)
    for problem in verdict.problems:
        typer.echo(f"FAIL {problem}")
    if not verdict.ok:
        raise typer.Exit(1)
    typer.echo(
        f"OK {round_id}: sha256(seed) matches the commitment; {len(verdict.winners)} winners "
        f"of {len([e for e in entries if e['status'] != 'withdrawn'])} entries recomputed"
    )
