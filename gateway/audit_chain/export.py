"""JSONL export of the audit log, and offline verification of such a file.

Line 1 is a header: `{"type":"header","format":"cityhall-audit-log","version":1,"keys":[JWK…]}`
with the Ed25519 public keys as JWKs (`kty` OKP, `crv` Ed25519). Every further line is one
record in log order: `{"type":"event","seq":…,"prev_hash":…,"hash":…,"event":{…}}` or
`{"type":"checkpoint","kid":…,"head_seq":…,"head_hash":…,"issued_at":…,"prev_signature":…,
"signature":…}`. Lines are canonical JSON, so an export of the same log is byte-identical.

On keys: whoever can rewrite the file can also re-sign it with a key of their own and embed
that key in the header, so a file that verifies against its embedded keys only proves it is
internally consistent. Authenticity needs keys obtained elsewhere (the gateway's published
keys, a copy kept by the auditors): pass them as `trusted_keys`, and the report's
`key_source` says which kind of check was made.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.audit_chain.canonical import JsonValue, canonical_json
from gateway.audit_chain.chain import ChainLink
from gateway.audit_chain.checkpoint import Checkpoint, b64url_decode, b64url_encode
from gateway.audit_chain.verify import (
    AuditRecord,
    KeySource,
    MalformedRecord,
    VerifyReport,
    verify,
)

EXPORT_FORMAT = "cityhall-audit-log"
EXPORT_VERSION = 1


class ExportFormatError(ValueError):
    """A line is not a record (or header) of this format."""


def public_key_to_jwk(kid: str, key: Ed25519PublicKey) -> dict[str, str]:
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
        "kid": kid,
        "x": b64url_encode(raw),
    }


def jwk_to_public_key(jwk: Mapping[str, object]) -> tuple[str, Ed25519PublicKey]:
    kid, x = jwk.get("kid"), jwk.get("x")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ExportFormatError("only OKP/Ed25519 keys are supported")
    if not isinstance(kid, str) or not isinstance(x, str):
        raise ExportFormatError("a key needs string 'kid' and 'x'")
    try:
        return kid, Ed25519PublicKey.from_public_bytes(b64url_decode(x))
    except ValueError as exc:
        raise ExportFormatError(f"key {kid!r}: 'x' is not an Ed25519 public key") from exc


def header_line(public_keys: Mapping[str, Ed25519PublicKey]) -> str:
    return canonical_json(
        {
            "type": "header",
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "keys": [public_key_to_jwk(kid, key) for kid, key in sorted(public_keys.items())],
        }
    )


def record_line(record: ChainLink | Checkpoint) -> str:
    if isinstance(record, ChainLink):
        return canonical_json(
            {
                "type": "event",
                "seq": record.seq,
                "prev_hash": record.prev_hash,
                "hash": record.hash,
                "event": record.event,
            }
        )
    return canonical_json({"type": "checkpoint", **dataclasses.asdict(record)})


def export_lines(
    records: Iterable[ChainLink | Checkpoint], public_keys: Mapping[str, Ed25519PublicKey]
) -> Iterator[str]:
    """The export, line by line with newlines; lazy, for streaming a response."""
    yield header_line(public_keys) + "\n"
    for record in records:
        yield record_line(record) + "\n"


def write_export(
    path: str | os.PathLike[str],
    records: Iterable[ChainLink | Checkpoint],
    public_keys: Mapping[str, Ed25519PublicKey],
) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.writelines(export_lines(records, public_keys))


def parse_line(line: str) -> dict[str, JsonValue]:
    """Strict JSON: no floats or NaN, no duplicate keys (two parsers must not disagree)."""
    try:
        value = json.loads(
            line,
            parse_float=_reject_float,
            parse_constant=_reject_float,
            object_pairs_hook=_no_duplicate_keys,
        )
    except ValueError as exc:
        raise ExportFormatError(f"not valid JSON for this format: {exc}") from exc
    if not isinstance(value, dict):
        raise ExportFormatError("a line must be a JSON object")
    return value


def record_from_json(obj: Mapping[str, JsonValue]) -> ChainLink | Checkpoint:
    kind = obj.get("type")
    if kind == "event":
        _expect_keys(obj, {"type", "seq", "prev_hash", "hash", "event"})
        event = obj["event"]
        if not isinstance(event, dict):
            raise ExportFormatError("'event' must be an object")
        return ChainLink(
            seq=_int(obj, "seq"),
            event=event,
            prev_hash=_str(obj, "prev_hash"),
            hash=_str(obj, "hash"),
        )
    if kind == "checkpoint":
        _expect_keys(
            obj,
            {"type", "kid", "head_seq", "head_hash", "issued_at", "prev_signature", "signature"},
        )
        prev_signature = obj["prev_signature"]
        if prev_signature is not None and not isinstance(prev_signature, str):
            raise ExportFormatError("'prev_signature' must be a string or null")
        return Checkpoint(
            kid=_str(obj, "kid"),
            head_seq=_int(obj, "head_seq"),
            head_hash=_str(obj, "head_hash"),
            issued_at=_str(obj, "issued_at"),
            prev_signature=prev_signature,
            signature=_str(obj, "signature"),
        )
    raise ExportFormatError(f"unknown record type {kind!r}")


def read_header(line: str) -> dict[str, Ed25519PublicKey]:
    """The embedded public keys, by kid."""
    header = parse_line(line)
    if header.get("type") != "header" or header.get("format") != EXPORT_FORMAT:
        raise ExportFormatError(f"first line is not a {EXPORT_FORMAT} header")
    version = header.get("version")
    if type(version) is not int or version != EXPORT_VERSION:
        raise ExportFormatError(f"unsupported export version {version!r}")
    keys = header.get("keys")
    if not isinstance(keys, list):
        raise ExportFormatError("header 'keys' must be a list of JWKs")
    embedded: dict[str, Ed25519PublicKey] = {}
    for jwk in keys:
        if not isinstance(jwk, dict):
            raise ExportFormatError("header 'keys' must be a list of JWKs")
        kid, key = jwk_to_public_key(jwk)
        if kid in embedded:
            raise ExportFormatError(f"key id {kid!r} appears twice in the header")
        embedded[kid] = key
    return embedded


def read_records(lines: Iterable[str]) -> Iterator[AuditRecord]:
    """Records from the lines after the header; undecodable lines become `MalformedRecord`."""
    for line in lines:
        try:
            yield record_from_json(parse_line(line))
        except ExportFormatError as exc:
            yield MalformedRecord(str(exc))


def verify_export(
    lines: TextIO | Iterable[str], trusted_keys: Mapping[str, Ed25519PublicKey] | None = None
) -> VerifyReport:
    """Verify an export given as lines (header first); see `verify_file`."""
    line_iter = iter(lines)
    try:
        embedded = read_header(next(line_iter, ""))
    except ExportFormatError as exc:
        return VerifyReport(
            ok=False,
            reason=f"line 1: {exc}",
            events=0,
            checkpoints=0,
            anchored_seq=0,
            unanchored_tail=0,
            first_bad_seq=None,
            record_index=None,
            key_source=KeySource.EMBEDDED if trusted_keys is None else KeySource.TRUSTED,
        )
    if trusted_keys is not None:
        return dataclasses.replace(
            _with_line_numbers(verify(read_records(line_iter), trusted_keys)),
            key_source=KeySource.TRUSTED,
        )
    report = _with_line_numbers(verify(read_records(line_iter), embedded))
    return dataclasses.replace(
        report,
        key_source=KeySource.EMBEDDED,
        reason=report.reason
        + " (checked only against keys embedded in the file: this proves consistency,"
        " not who signed; pass trusted keys for that)",
    )


def verify_file(
    path: str | os.PathLike[str], trusted_keys: Mapping[str, Ed25519PublicKey] | None = None
) -> VerifyReport:
    """Check an export offline. With `trusted_keys`, the embedded keys are ignored."""
    with open(path, encoding="utf-8", newline="\n") as lines:
        return verify_export(lines, trusted_keys)


def _with_line_numbers(report: VerifyReport) -> VerifyReport:
    if report.ok or report.record_index is None:
        return report
    return dataclasses.replace(report, reason=f"line {report.record_index + 2}: {report.reason}")


def _reject_float(text: str) -> float:
    raise ExportFormatError(f"non-integer number {text} (floats are not allowed)")


def _no_duplicate_keys(pairs: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    result: dict[str, JsonValue] = {}
    for key, value in pairs:
        if key in result:
            raise ExportFormatError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _expect_keys(obj: Mapping[str, JsonValue], keys: set[str]) -> None:
    if set(obj) != keys:
        raise ExportFormatError(f"{obj.get('type')} record must have exactly {sorted(keys)}")


def _int(obj: Mapping[str, JsonValue], name: str) -> int:
    value = obj[name]
    if type(value) is not int:
        raise ExportFormatError(f"{name!r} must be an integer")
    return value


def _str(obj: Mapping[str, JsonValue], name: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise ExportFormatError(f"{name!r} must be a string")
    return value
