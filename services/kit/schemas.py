"""Shared request-model bases: what every write body refuses (DESIGN 4)."""

from __future__ import annotations

import types
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

NUL = "\x00"

# JSON has numbers and booleans of its own: `"3000"` or `"true"` in their place is a client
# bug, and taking it (pydantic's lax mode would) hides the bug until it costs money.
_STRICT = {bool: "bool", int: "int", float: "float"}
# HTML forms carry nothing but strings: validate them with `context=FORM_INPUT`.
FORM_INPUT: dict[str, Any] = {"form": True}
_MESSAGES = {
    "bool": "Input should be a JSON boolean (true or false), not {given}",
    "int": "Input should be a JSON integer, not {given}",
    "float": "Input should be a JSON number, not {given}",
}


def _refuse_nul(value: Any) -> Any:
    """Walks strings, lists and dict keys/values; NUL bytes never reach a database."""
    if isinstance(value, str):
        if NUL in value:
            raise ValueError("NUL bytes are not allowed")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key)
            _refuse_nul(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_nul(item)
    return value


def _strict_kind(annotation: Any) -> tuple[str, bool] | None:
    """(`bool`/`int`/`float`, whether a list of them) for an annotation that is one of those
    scalars, optionally inside Annotated, `| None` or list/tuple/set; None otherwise."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _strict_kind(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = {_strict_kind(a) for a in get_args(annotation) if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 and None not in kinds else None
    if origin in (list, tuple, set, frozenset):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        inner = {_strict_kind(a) for a in args}
        element = inner.pop() if len(inner) == 1 else None
        return (element[0], True) if element is not None and not element[1] else None
    scalar = _STRICT.get(annotation)
    return (scalar, False) if scalar is not None else None


def _json_type(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, int | float) else type(value).__name__


def _refuse_lax(kind: str, value: Any) -> None:
    if value is None:
        return
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok and isinstance(value, str | bool | int | float):
        raise PydanticCustomError(f"{kind}_type", _MESSAGES[kind].format(given=_json_type(value)))


class WriteModel(BaseModel):
    """Base of request bodies: unknown fields are refused, and so are NUL bytes in any string
    (in lists and dicts too; nested WriteModels check their own fields); numbers and booleans
    must be JSON numbers and booleans, never strings (`"3000"`, `"true"`), except in a form
    post validated with `context=FORM_INPUT`; the 422 names the field."""

    model_config = ConfigDict(extra="forbid")
    __strict_scalars__: ClassVar[dict[str, tuple[str, bool]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        strict: dict[str, tuple[str, bool]] = {}
        for name, info in cls.model_fields.items():
            kind = _strict_kind(info.annotation)
            if kind is not None:
                strict[name] = kind
        cls.__strict_scalars__ = strict

    @field_validator("*", mode="before")
    @classmethod
    def _no_lax_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        kind = cls.__strict_scalars__.get(info.field_name or "")
        if kind is None or (info.context or {}).get("form"):
            return value
        name, many = kind
        if many and isinstance(value, list | tuple):
            for item in value:
                _refuse_lax(name, item)
        elif not many:
            _refuse_lax(name, value)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_bytes(cls, value: Any) -> Any:
        return _refuse_nul(value)
