"""Application forms are JSON Schema (2020-12) documents; answers are validated with the
maintained `jsonschema` validator and every error names the JSON pointer of its field.
jsonschema is imported at the first form checked, not with the app."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import ValidationError

MAX_ERRORS = 50


@functools.cache
def _formats() -> FormatChecker:
    from jsonschema import FormatChecker

    return FormatChecker(formats=("email", "date"))


class InvalidFormSchema(ValueError):
    """A procedure's form is not a valid JSON Schema."""


def check_schema(schema: Mapping[str, Any]) -> None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidFormSchema(f"the form is not a valid JSON Schema: {exc.message}") from exc
    if schema.get("type") != "object":
        raise InvalidFormSchema("a form schema must describe an object")


def pointer(path: Any) -> str:
    """RFC 6901: `["items", 0, "kind"]` → `/items/0/kind`."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


_VALIDATORS: dict[int, tuple[Mapping[str, Any], Draft202012Validator]] = {}
MAX_VALIDATORS = 1024


def validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    """One compiled validator per schema object (procedure versions are parsed once and kept,
    so their schemas live as long as the process); the entry holds the schema, so its id is
    never reused while cached."""
    entry = _VALIDATORS.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    if len(_VALIDATORS) >= MAX_VALIDATORS:
        _VALIDATORS.clear()
    from jsonschema import Draft202012Validator

    compiled = Draft202012Validator(schema, format_checker=_formats())
    _VALIDATORS[id(schema)] = (schema, compiled)
    return compiled


def _flatten(error: ValidationError) -> Iterator[ValidationError]:
    # `if/then`, `anyOf` and friends wrap the errors that name real fields.
    if error.context and error.validator in ("anyOf", "oneOf"):
        for sub in error.context:
            yield from _flatten(sub)
    else:
        yield error


def form_errors(schema: Mapping[str, Any], answers: Any) -> list[dict[str, str]]:
    """Every problem with `answers`, as `{"field", "pointer", "message"}`, by pointer."""
    errors: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for top in validator(schema).iter_errors(answers):
        for error in _flatten(top):
            path = list(error.absolute_path)
            missing: list[str | None] = []
            if error.validator == "required" and isinstance(error.instance, dict):
                wanted = error.validator_value
                missing = [p for p in wanted if p not in error.instance]  # type: ignore[union-attr]
            for name in missing or [None]:
                where = pointer([*path, name] if name is not None else path)
                message = "this field is required" if name is not None else error.message
                if (where, message) in seen:
                    continue
                seen.add((where, message))
                errors.append(
                    {
                        "field": "form" + where.replace("/", "."),
                        "pointer": where,
                        "message": message,
                    }
                )
    errors.sort(key=lambda e: e["pointer"])
    return errors[:MAX_ERRORS]


def changed_pointers(before: Any, after: Any, path: tuple[Any, ...] = ()) -> list[str]:
    """The JSON pointers whose values differ between two answers (what a resubmission changed)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[str] = []
        for key in sorted(set(before) | set(after)):
            out += changed_pointers(before.get(key), after.get(key), (*path, key))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        out = []
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            out += changed_pointers(b, a, (*path, index))
        return out
    return [] if before == after else [pointer(path) or "/"]


def value_at(answers: Any, where: str) -> Any:
    """The value at a JSON pointer, or None when the path does not exist."""
    node = answers
    for raw in where.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    return False
