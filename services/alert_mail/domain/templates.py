"""Notify-style templates: `((name))` placeholders and `((name??text))` optional content.

- `((name))` is replaced by the personalisation value `name`; a template's placeholders must
  all be given (the error names `personalisation.name`); extra keys are ignored.
- `((name??text))` shows `text` when `name` is yes/true (or a true boolean), and nothing when
  it is no/false or not given at all: the key is optional. A line holding only left-out
  content is dropped with its line break.
- Names match as in Notify: case, spaces, `_` and `-` do not matter (`((Full Name))` is filled
  by `full_name`).
- Rendering is a single pass, so a value that looks like a placeholder stays as it is. Mail is
  plain text: values lose control and bidirectional-override characters; in the subject, line
  breaks become spaces (a value cannot add a header line).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.kit.errors import UnprocessableContent

PLACEHOLDER = re.compile(r"\(\(([^()]+?)\)\)")
CONDITIONAL = "??"
MAX_NAME_LENGTH = 100
MAX_SUBJECT_LENGTH = 998  # RFC 5322 line limit: the rendered subject must fit one header line
MAX_BODY_LENGTH = 100_000
BULLET = "・"

_YES_NO = {
    "ja": ("はい", "いいえ"),
    "en": ("yes", "no"),
    "zh": ("是", "否"),
    "ko": ("예", "아니요"),
}
_TRUE = frozenset({"yes", "y", "true", "1", "はい", "是", "예"})
_FALSE = frozenset({"no", "n", "false", "0", "いいえ", "否", "아니요", ""})
_KEY_NOISE = str.maketrans("", "", " _-\u3000")
_HIDDEN = "\x00"  # marks left-out optional content; values cannot carry it (controls go)
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

Personalisation = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str  # as written in the template
    conditional_text: str | None = None  # the text of `((name??text))`

    @property
    def key(self) -> str:
        return normalise_key(self.name)

    @property
    def is_conditional(self) -> bool:
        return self.conditional_text is not None


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


def normalise_key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).translate(_KEY_NOISE).casefold()


def _parse_one(inner: str, field: str) -> Placeholder:
    name, sep, text = inner.partition(CONDITIONAL)
    name = name.strip()
    if not name or not normalise_key(name):
        raise UnprocessableContent(f"an empty placeholder (({inner})) in {field}", field=field)
    if len(name) > MAX_NAME_LENGTH:
        raise UnprocessableContent(
            f"placeholder names are at most {MAX_NAME_LENGTH} characters", field=field
        )
    if sep and CONDITIONAL in text:
        raise UnprocessableContent(
            f"((name??text)) takes one ??: (({inner})) in {field}", field=field
        )
    return Placeholder(name, text if sep else None)


def placeholders(text: str, field: str) -> list[Placeholder]:
    """The placeholders of one template field, in order; 422 naming `field` when one is
    malformed or a `((` / `))` is left unpaired (a typo would otherwise reach citizens)."""
    found = [_parse_one(m.group(1), field) for m in PLACEHOLDER.finditer(text)]
    rest = PLACEHOLDER.sub("", text)
    if "((" in rest or "))" in rest:
        raise UnprocessableContent(
            f"{field} has a '((' or '))' that does not form a ((placeholder))", field=field
        )
    return found


def check_template(subject: str, body: str) -> None:
    """Refuses a template that cannot render (422 naming `subject` or `body`)."""
    placeholders(subject, "subject")
    placeholders(body, "body")
    if "\n" in subject or "\r" in subject:
        raise UnprocessableContent("the subject is one line", field="subject")


def required_keys(subject: str, body: str) -> list[str]:
    """Names (as written) of the placeholders a notification must fill, first use first."""
    seen: dict[str, str] = {}
    for placeholder in [*placeholders(subject, "subject"), *placeholders(body, "body")]:
        if not placeholder.is_conditional:
            seen.setdefault(placeholder.key, placeholder.name)
    return list(seen.values())


def _clean(text: str, *, one_line: bool) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = []
    for char in text:
        if char in "\n\t":
            kept.append(" " if one_line else char)
        elif char in _BIDI_CONTROLS or unicodedata.category(char) == "Cc":
            continue
        else:
            kept.append(char)
    cleaned = "".join(kept)
    return " ".join(cleaned.split()) if one_line else cleaned


def _as_text(value: Any, name: str, *, one_line: bool, language: str = "ja") -> str:
    if isinstance(value, bool):
        yes, no = _YES_NO.get(language, _YES_NO["ja"])
        return yes if value else no
    if isinstance(value, str | int | float):
        return _clean(str(value), one_line=one_line)
    if isinstance(value, Sequence):
        items = [_as_text(item, name, one_line=True, language=language) for item in value]
        return ("、" if one_line else "\n").join(
            item if one_line else f"{BULLET}{item}" for item in items
        )
    raise UnprocessableContent(
        "a personalisation value is text, a number, a boolean or a list of these",
        field=f"personalisation.{name}",
    )


def _shows(value: Any, name: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    word = str(value).strip().casefold()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise UnprocessableContent(
        f"((…??…)) needs yes or no (true/false) for {name}", field=f"personalisation.{name}"
    )


def _fill(
    text: str, field: str, values: Mapping[str, Any], *, one_line: bool, language: str
) -> str:
    placeholders(text, field)  # refuse malformed templates before filling anything

    def replace(match: re.Match[str]) -> str:
        placeholder = _parse_one(match.group(1), field)
        value = values.get(placeholder.key)
        if placeholder.conditional_text is not None:
            shown = _shows(value, placeholder.name)
            return placeholder.conditional_text if shown else _HIDDEN
        return _as_text(value, placeholder.name, one_line=one_line, language=language)

    return PLACEHOLDER.sub(replace, text)


def missing_keys(subject: str, body: str, personalisation: Personalisation) -> list[str]:
    given = {normalise_key(k) for k, v in personalisation.items() if v is not None}
    return [name for name in required_keys(subject, body) if normalise_key(name) not in given]


def render(
    subject: str, body: str, personalisation: Personalisation, *, language: str = "ja"
) -> Rendered:
    """Fills a template version; 422 naming every missing `personalisation.<name>`. A boolean
    value reads as yes/no in the template's `language`."""
    missing = missing_keys(subject, body, personalisation)
    if missing:
        raise UnprocessableContent(
            f"missing personalisation: {', '.join(missing)}",
            errors=[
                {"field": f"personalisation.{name}", "message": "this template needs a value"}
                for name in missing
            ],
        )
    values = {normalise_key(k): v for k, v in personalisation.items()}
    rendered_subject = _fill(subject, "subject", values, one_line=True, language=language)
    rendered_body = _fill(body, "body", values, one_line=False, language=language)
    if len(rendered_subject) > MAX_SUBJECT_LENGTH:
        raise UnprocessableContent(
            f"the rendered subject is longer than {MAX_SUBJECT_LENGTH} characters",
            field="personalisation",
        )
    if len(rendered_body) > MAX_BODY_LENGTH:
        raise UnprocessableContent(
            f"the rendered body is longer than {MAX_BODY_LENGTH} characters",
            field="personalisation",
        )
    return Rendered(
        subject=" ".join(rendered_subject.replace(_HIDDEN, "").split()),
        body=_tidy_lines(rendered_body),
    )


def _tidy_lines(text: str) -> str:
    """A line that held only left-out optional content goes, blank line and all."""
    kept = []
    for line in text.split("\n"):
        shown = line.replace(_HIDDEN, "").rstrip()
        if shown or _HIDDEN not in line:
            kept.append(shown)
    return "\n".join(kept).strip("\n")
