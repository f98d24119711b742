"""The unit tree of a facility: a unit with children (アリーナ全面) occupies all their leaves
(both 半面), so no-double-booking is checked on leaves only."""

from __future__ import annotations

from collections.abc import Mapping


def leaves(parents: Mapping[str, str | None]) -> dict[str, frozenset[str]]:
    """`{unit: its leaf units}` from `{unit: parent}`; a leaf is its own only leaf."""
    children: dict[str, list[str]] = {code: [] for code in parents}
    for code, parent in parents.items():
        if parent is not None:
            if parent not in children:
                raise ValueError(f"unit {code} names an unknown parent {parent}")
            children[parent].append(code)
    result: dict[str, frozenset[str]] = {}

    def walk(code: str, seen: frozenset[str]) -> frozenset[str]:
        if code in seen:
            raise ValueError(f"the unit tree has a cycle through {code}")
        if code not in result:
            kids = children[code]
            result[code] = (
                frozenset().union(*(walk(k, seen | {code}) for k in kids))
                if kids
                else frozenset({code})
            )
        return result[code]

    for code in parents:
        walk(code, frozenset())
    return result
