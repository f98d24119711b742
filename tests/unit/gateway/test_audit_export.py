from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.audit_chain.chain import ChainLink, append
from gateway.audit_chain.checkpoint import Checkpoint, sign_checkpoint
from gateway.audit_chain.export import (
    ExportFormatError,
    export_lines,
    jwk_to_public_key,
    public_key_to_jwk,
    read_records,
    verify_file,
    write_export,
)
from gateway.audit_chain.verify import KeySource, verify

from .audit_log_builder import (
    ATTACKER_KEY,
    KID,
    PUBLIC_KEYS,
    SIGNING_KEY,
    build_log,
    checkpoints_of,
    links_of,
)

LOG = build_log(events=200, every=50)


@pytest.fixture
def export_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    write_export(path, LOG, PUBLIC_KEYS)
    return path


def _rewrite_line(path: Path, line_number: int, change: dict[str, object]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[line_number - 1])
    record.update(change)
    lines[line_number - 1] = json.dumps(record, ensure_ascii=False) + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def test_export_then_verify_file_round_trips_with_trusted_keys(export_path: Path) -> None:
    report = verify_file(export_path, trusted_keys=PUBLIC_KEYS)
    assert report.ok, report.reason
    assert report.key_source is KeySource.TRUSTED
    assert (report.events, report.checkpoints, report.anchored_seq) == (200, 4, 200)


def test_records_read_back_equal_the_originals(export_path: Path) -> None:
    lines = export_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + len(LOG)
    header = json.loads(lines[0])
    assert header["format"] == "cityhall-audit-log"
    assert header["version"] == 1
    assert list(read_records(lines[1:])) == LOG
    assert "住民票の写し交付申請" in lines[1]  # UTF-8, not \u escapes


def _keys_reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _keys_reversed(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_keys_reversed(v) for v in value]
    return value


def test_export_is_deterministic(export_path: Path) -> None:
    """The same log exports to the same bytes however it was built: from records read back
    from a file, and from copies whose every object (and the key set) is in reverse order."""
    keys = {KID: SIGNING_KEY.public_key(), "audit-2025-10": ATTACKER_KEY.public_key()}
    expected = "".join(export_lines(LOG, keys))
    lines = export_path.read_text(encoding="utf-8").splitlines()
    read_back = [r for r in read_records(lines[1:]) if isinstance(r, ChainLink | Checkpoint)]
    assert len(read_back) == len(LOG)
    reordered = [
        dataclasses.replace(r, event=_keys_reversed(r.event)) if isinstance(r, ChainLink) else r
        for r in LOG
    ]
    first, original = reordered[0], LOG[0]
    assert isinstance(first, ChainLink)
    assert isinstance(original, ChainLink)
    assert list(first.event) == list(reversed(list(original.event)))
    keys_reversed = dict(reversed(list(keys.items())))
    assert "".join(export_lines(read_back, keys)) == expected
    assert "".join(export_lines(reordered, keys_reversed)) == expected


def test_embedded_keys_alone_verify_but_say_so(export_path: Path) -> None:
    report = verify_file(export_path)
    assert report.ok
    assert report.key_source is KeySource.EMBEDDED
    assert "embedded" in report.reason


def test_a_wrong_trusted_key_fails(export_path: Path) -> None:
    report = verify_file(export_path, trusted_keys={KID: ATTACKER_KEY.public_key()})
    assert not report.ok
    assert report.key_source is KeySource.TRUSTED
    assert "signature is not valid" in report.reason


def test_a_re_signed_forgery_passes_embedded_keys_but_not_trusted_ones(tmp_path: Path) -> None:
    forged_log = build_log(events=200, every=50, key=ATTACKER_KEY, kid=KID)
    path = tmp_path / "forged.jsonl"
    write_export(path, forged_log, {KID: ATTACKER_KEY.public_key()})
    assert verify_file(path).ok
    assert not verify_file(path, trusted_keys=PUBLIC_KEYS).ok


def test_an_edited_line_is_reported_with_its_line_number(export_path: Path) -> None:
    # Line 1 is the header, so seq 42 sits on line 43.
    original = json.loads(export_path.read_text(encoding="utf-8").splitlines()[42])
    _rewrite_line(export_path, 43, {"event": {**original["event"], "status": 200}})
    report = verify_file(export_path, trusted_keys=PUBLIC_KEYS)
    assert not report.ok
    assert report.first_bad_seq == 42
    assert report.reason.startswith("line 43: ")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("not json", "not valid JSON"),
        ('{"type":"event","seq":1.0,"prev_hash":"","hash":"","event":{}}', "floats"),
        ('{"type":"event","seq":NaN,"prev_hash":"","hash":"","event":{}}', "floats"),
        ('{"type":"event","type":"event","seq":1,"prev_hash":"","hash":"","event":{}}', "dup"),
        ('{"type":"event","seq":true,"prev_hash":"","hash":"","event":{}}', "integer"),
        ('{"type":"event","seq":1,"prev_hash":"","hash":"","event":[]}', "object"),
        ('{"type":"event","seq":1,"prev_hash":"","hash":"","event":{},"x":1}', "exactly"),
        ('{"type":"mystery"}', "unknown record type"),
        ("[]", "JSON object"),
        ("", "not valid JSON"),
    ],
)
def test_malformed_lines_are_reported_not_raised(
    export_path: Path, line: str, expected: str
) -> None:
    lines = export_path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(10, line + "\n")
    export_path.write_text("".join(lines), encoding="utf-8")
    report = verify_file(export_path, trusted_keys=PUBLIC_KEYS)
    assert not report.ok
    assert report.reason.startswith("line 11: malformed record")
    assert expected in report.reason


@pytest.mark.parametrize(
    "header",
    [
        "",
        '{"type":"event"}',
        '{"type":"header","format":"cityhall-audit-log","version":2,"keys":[]}',
        '{"type":"header","format":"cityhall-audit-log","version":true,"keys":[]}',
        '{"type":"header","format":"cityhall-audit-log","version":1,"keys":[{"kty":"RSA"}]}',
    ],
)
def test_a_bad_header_is_reported(tmp_path: Path, header: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(header + "\n", encoding="utf-8")
    report = verify_file(path)
    assert not report.ok
    assert report.reason.startswith("line 1: ")


def test_jwk_round_trip_and_shape() -> None:
    jwk = public_key_to_jwk(KID, SIGNING_KEY.public_key())
    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert len(jwk["x"]) == 43
    kid, key = jwk_to_public_key(jwk)
    assert kid == KID
    assert public_key_to_jwk(kid, key) == jwk
    with pytest.raises(ExportFormatError):
        jwk_to_public_key({**jwk, "x": jwk["x"][:-2]})


def test_a_log_with_an_unanchored_tail_exports_and_reports_it(tmp_path: Path) -> None:
    head = links_of(LOG)[-1]
    tail: list[ChainLink] = []
    for n in range(3):
        head = append(head, {"id": f"late_{n}", "status": 200})
        tail.append(head)
    path = tmp_path / "tail.jsonl"
    write_export(path, [*LOG, *tail], PUBLIC_KEYS)
    report = verify_file(path, trusted_keys=PUBLIC_KEYS)
    assert report.ok
    assert report.unanchored_tail == 3
    assert "unanchored tail of 3 events" in report.reason


def test_a_file_and_the_in_memory_log_give_the_same_verdict(export_path: Path) -> None:
    in_memory = verify(links_of(LOG), PUBLIC_KEYS, checkpoints=checkpoints_of(LOG))
    from_file = verify_file(export_path, trusted_keys=PUBLIC_KEYS)
    assert (in_memory.ok, in_memory.events, in_memory.anchored_seq) == (
        from_file.ok,
        from_file.events,
        from_file.anchored_seq,
    )


def test_a_checkpoint_appended_to_an_export_still_verifies(export_path: Path) -> None:
    heartbeat = sign_checkpoint(
        SIGNING_KEY,
        KID,
        200,
        links_of(LOG)[-1].hash,
        "2026-04-01T10:00:00Z",
        checkpoints_of(LOG)[-1].signature,
    )
    with export_path.open("a", encoding="utf-8") as out:
        out.writelines(list(export_lines([heartbeat], PUBLIC_KEYS))[1:])
    assert verify_file(export_path, trusted_keys=PUBLIC_KEYS).checkpoints == 5
