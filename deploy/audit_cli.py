"""`cityhall audit verify FILE [--key JWK_FILE]`: check an audit export offline.

Without `--key` the file is checked against the keys embedded in its own header, which
proves it is consistent but not who signed it. Pass the gateway's checkpoint key (saved from
`GET /audit/keys`: a JWK, or a JWKS with a `keys` list) for an authenticity check.
Exits 0 when the log is intact, 1 when tampering (or a malformed record) is found, 2 when
the key file cannot be used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

audit_app = typer.Typer(help="Check the gateway's tamper-evident audit log.")


@audit_app.callback()
def audit() -> None:
    """Audit log tools."""


@audit_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a JSONL export")],
    key: Annotated[
        Path | None,
        typer.Option("--key", exists=True, dir_okay=False, help="trusted JWK or JWKS file"),
    ] = None,
) -> None:
    """Verify the hash chain and the signed checkpoints of an export (GET /audit/export)."""
    from gateway.audit_chain.export import ExportFormatError, jwk_to_public_key, verify_file

    trusted = None
    if key is not None:
        try:
            document = json.loads(key.read_text(encoding="utf-8"))
            jwks = (
                document["keys"]
                if isinstance(document, dict) and "keys" in document
                else [document]
            )
            trusted = dict(jwk_to_public_key(jwk) for jwk in jwks)
        except (ValueError, KeyError, TypeError, ExportFormatError) as exc:
            typer.echo(f"cityhall: {key} is not a usable JWK or JWKS: {exc}", err=True)
            raise typer.Exit(2) from None
    report = verify_file(file, trusted)
    typer.echo(f"{'OK' if report.ok else 'TAMPERED'}: {report.reason}")
    typer.echo(
        f"events={report.events} checkpoints={report.checkpoints}"
        f" anchored_seq={report.anchored_seq} unanchored_tail={report.unanchored_tail}"
        f" first_bad_seq={report.first_bad_seq} keys={report.key_source.value}"
    )
    if not report.ok:
        raise typer.Exit(1)
