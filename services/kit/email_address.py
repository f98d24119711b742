"""E-mail addresses as every part of the suite accepts and stores them (one normaliser: the
gateway's accounts, alert_mail's subscriptions and call-up members)."""

from __future__ import annotations

import re

from services.kit.errors import UnprocessableContent

# RFC 5322 dot-atom local part (no quoted strings: they only ever carry mischief into headers).
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_email(raw: str, field: str = "email", *, fold_local: bool = False) -> str:
    """`Local@domain.example` with the domain lower-cased (IDN as punycode); 422 naming
    `field` otherwise. With `fold_local` the local part is lower-cased too: an account's
    login name, where `Hanako@…` and `hanako@…` must be one account."""
    address = raw.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise UnprocessableContent("enter an e-mail address like name@example.jp", field=field)
    if len(local) > 64 or not _LOCAL.match(local):
        raise UnprocessableContent("the part before @ is not valid in an address", field=field)
    try:
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UnprocessableContent("the domain of the address is not valid", field=field) from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise UnprocessableContent("the domain of the address is not valid", field=field)
    if labels[-1].isdigit():
        raise UnprocessableContent("the domain of the address is not valid", field=field)
    normalised = f"{local.lower() if fold_local else local}@{ascii_domain}"
    if len(normalised) > 254:
        raise UnprocessableContent("the address is longer than 254 characters", field=field)
    return normalised
