from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pytest

from gateway.audit_chain.canonical import (
    MAX_SAFE_INTEGER,
    CanonicalizationError,
    canonical_bytes,
    canonical_json,
    rfc3339_utc,
)


def test_strings_and_literals_match_the_jcs_example() -> None:
    # The non-number part of the RFC 8785 / JCS reference sample.
    value = {
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    assert (
        canonical_json(value)
        == '{"literals":[null,true,false],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )


def test_keys_sort_by_utf16_code_units_as_in_rfc8785() -> None:
    # RFC 8785 §3.2.3: U+1F600 (surrogates D83D DE00) sorts before U+FB33 in UTF-16,
    # although its code point is larger.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    assert canonical_json(value) == (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )


def test_output_is_compact_utf8_and_independent_of_insertion_order() -> None:
    a = {"b": [1, {"y": None, "x": "市役所"}], "a": -5}
    b = {"a": -5, "b": [1, {"x": "市役所", "y": None}]}
    assert canonical_bytes(a) == canonical_bytes(b)
    assert canonical_bytes(a) == '{"a":-5,"b":[1,{"x":"市役所","y":null}]}'.encode()


def test_booleans_stay_literals_and_safe_integers_are_allowed() -> None:
    assert canonical_json({"t": True, "n": MAX_SAFE_INTEGER, "m": -MAX_SAFE_INTEGER}) == (
        f'{{"m":-{MAX_SAFE_INTEGER},"n":{MAX_SAFE_INTEGER},"t":true}}'
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"amount": 1.5},
        {"amount": 1.0},
        {"amount": math.nan},
        {"amount": math.inf},
        {"deep": [{"x": -math.inf}]},
        {"big": MAX_SAFE_INTEGER + 1},
        {"big": -MAX_SAFE_INTEGER - 1},
        {"tuple": (1, 2)},
        {"bytes": b"x"},
        {"set": {1}},
        {"nested": {1: "int key"}},
        {"lone": "\ud800"},
        {"\udc00": "lone surrogate key"},
    ],
)
def test_values_outside_the_subset_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_bytes(bad)


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(CanonicalizationError):
        canonical_bytes([1, 2])  # type: ignore[arg-type]


def test_rfc3339_utc_normalises_offsets_and_refuses_naive_times() -> None:
    jst = timezone(timedelta(hours=9))
    assert rfc3339_utc(datetime(2026, 4, 1, 9, 0, tzinfo=jst)) == "2026-04-01T00:00:00.000000Z"
    with pytest.raises(ValueError, match="offset"):
        rfc3339_utc(datetime(2026, 4, 1, 9, 0))


@pytest.mark.parametrize(
    "event",
    [
        {"kind": "access", "id": "acc_1", "actor": None, "roles": ["b", "a"], "status": 200},
        {"z": True, "a": False, "m": -MAX_SAFE_INTEGER, "n": MAX_SAFE_INTEGER, "s": '市役所\n"'},
        {"B": "upper sorts first", "a": "", "_": "underscore", "~": "tilde", "0": "digit"},
        {"control": "\x00\x1f\x7f", "quote": "\\"},
        {},
    ],
)
def test_flat_ascii_events_take_the_fast_path_with_the_same_bytes(
    event: dict[str, object],
) -> None:
    """Access records skip the general walk (they are flat, with ASCII names); the bytes
    must be exactly those of the general RFC 8785 path."""
    from gateway.audit_chain import canonical

    assert canonical._is_flat_ascii_keyed(event)
    general = json.dumps(
        canonical._normalise(event), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode()
    assert canonical_bytes(event) == general


@pytest.mark.parametrize(
    "event",
    [
        {"ä": 1, "a": 2},  # a non-ASCII name: UTF-16 order needs the general path
        {"nested": {"b": 1, "a": 2}},
        {"list": [1, "a", None]},
    ],
)
def test_other_events_take_the_general_path(event: dict[str, object]) -> None:
    from gateway.audit_chain import canonical

    assert not canonical._is_flat_ascii_keyed(event)
    assert canonical_bytes(event) == json.dumps(
        canonical._normalise(event), ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


@pytest.mark.parametrize(
    "event",
    [{"n": MAX_SAFE_INTEGER + 1}, {"f": 1.5}, {"s": "\ud800"}, {"l": ["\udfff"]}],
)
def test_out_of_subset_values_are_refused_on_either_path(event: dict[str, object]) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_bytes(event)
