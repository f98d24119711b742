"""Canonical JSON for audit events, following RFC 8785 (JCS) for the subset we allow.

Allowed values: objects with string keys, arrays (lists), strings, booleans, null and integers
in the I-JSON safe range ±(2**53 - 1). Floats are refused outright — including NaN and the
infinities — because JCS prints numbers as ECMAScript doubles and a hash must never depend on
float formatting; amounts and durations are integers (yen, milliseconds). Strings containing
lone surrogates are refused (I-JSON requires valid Unicode). Timestamps are plain strings;
callers format them with `rfc3339_utc`.

Within that subset the output is byte-for-byte what RFC 8785 prescribes:
- object members sorted by the UTF-16 code units of their names (JCS §3.2.3; this differs from
  Python's code-point order only for characters outside the BMP against U+E000..U+FFFF);
- no insignificant whitespace; UTF-8 output; non-ASCII characters emitted as themselves;
- strings escaped as ECMAScript JSON.stringify does (JCS §3.2.2.2): `\\"`, `\\\\`, the short
  forms `\\b \\t \\n \\f \\r`, other controls below U+0020 as `\\u00hh` in lowercase hex,
  everything else literal (Python's encoder with ensure_ascii=False does exactly this);
- integers in plain decimal, which is what ECMAScript prints for safe integers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TypeAlias

MAX_SAFE_INTEGER = 2**53 - 1

# What `json.loads` gives back for our subset; events are stored in this shape.
JsonValue: TypeAlias = "bool | int | str | list[JsonValue] | dict[str, JsonValue] | None"


class CanonicalizationError(ValueError):
    """The value is outside the JSON subset an audit event may contain."""


def canonical_bytes(value: Mapping[str, object]) -> bytes:
    """Encode an event (a JSON object) canonically, as UTF-8 bytes ready for hashing."""
    if not isinstance(value, Mapping):
        raise CanonicalizationError("an audit event must be a JSON object")
    if _is_flat_ascii_keyed(value):
        # Every access record takes this path: for ASCII names Python's own key order is the
        # UTF-16 order, so the C encoder sorts as well as prints (the same bytes, ~6x faster).
        text = json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
        )
    else:
        try:
            ordered = _normalise(value)
        except _Invalid as exc:
            where = "".join(reversed(exc.where))
            raise CanonicalizationError(f"${where}: {exc.problem}") from None
        # Keys are already in UTF-16 order and dicts keep insertion order, so the C encoder can
        # do the printing; its escaping with ensure_ascii=False is the one JCS asks for.
        text = json.dumps(ordered, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalizationError("strings must be valid Unicode (no lone surrogates)") from exc


def canonical_json(value: Mapping[str, object]) -> str:
    return canonical_bytes(value).decode("utf-8")


def rfc3339_utc(moment: datetime) -> str:
    """`2026-04-01T09:30:00.123456Z`: fixed width in UTC, so equal instants give equal strings."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must carry a UTC offset")
    utc = moment.astimezone(UTC)
    if utc.year < 1000:
        # strftime's own spelling (unpadded on glibc), which earlier records were hashed with.
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as that strftime for every later year, at a third of its cost: it runs
    # for every access record.
    return fixed_width_utc(utc, "T") + "Z"


def fixed_width_utc(utc: datetime, separator: str) -> str:
    """`YYYY-MM-DD<separator>HH:MM:SS.ffffff` of a UTC datetime, zero-padded."""
    return "%04d-%02d-%02d%s%02d:%02d:%02d.%06d" % (  # noqa: UP031 - the fastest spelling
        utc.year,
        utc.month,
        utc.day,
        separator,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
    )


def _is_flat_ascii_keyed(value: Mapping[str, object]) -> bool:
    """A dict with ASCII string keys whose values are null, booleans, strings, safe
    integers or lists of strings: nothing for `_normalise` to reorder or refuse."""
    if type(value) is not dict:
        return False
    for key, item in value.items():
        if type(key) is not str or not key.isascii():
            return False
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
            continue
        if kind is list and all(type(element) is str for element in item):
            continue
        return False
    return True


def _utf16_key(name: str) -> bytes:
    # Big-endian UTF-16 bytes compare in the same order as the code-unit sequences.
    return name.encode("utf-16-be", errors="surrogatepass")


class _Invalid(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.where: list[str] = []  # innermost first; the path is only built on failure


def _normalise(value: object) -> JsonValue:
    """Check the value is in our subset and return it with every object's keys in JCS order."""
    # bool before int: True is an int in Python but a literal in JSON.
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise _Invalid("integer outside ±(2**53 - 1)")
        return int(value)
    if isinstance(value, float):
        raise _Invalid("floats (and NaN, ±Infinity) are not allowed")
    if isinstance(value, list):
        items: list[JsonValue] = []
        for index, item in enumerate(value):
            try:
                items.append(_normalise(item))
            except _Invalid as exc:
                exc.where.append(f"[{index}]")
                raise
        return items
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise _Invalid("object keys must be strings")
        members: dict[str, JsonValue] = {}
        for key in sorted(value, key=_utf16_key):
            try:
                members[key] = _normalise(value[key])
            except _Invalid as exc:
                exc.where.append(f".{key}")
                raise
        return members
    raise _Invalid(f"{type(value).__name__} is not a JSON value")
