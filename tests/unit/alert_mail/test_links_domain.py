"""Personal link tokens: genuine ones read back; forged, altered or odd ones are refused."""

from __future__ import annotations

import pytest

from services.alert_mail.domain.links import personal_token, read_personal_token

SECRET = "test-secret"


def test_a_genuine_token_reads_back_its_subject_and_version() -> None:
    token = personal_token(SECRET, "unsubscribe", "sub_01", 3)
    assert read_personal_token(SECRET, "unsubscribe", token) == ("sub_01", 3)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "sub_01",
        "sub_01.3",
        "sub_01.x.mac",
        "sub_01.\u00b2.mac",  # superscript two: str.isdigit() says yes, int() says no
        "sub_01.\uff13.mac",  # full-width three
        "sub_01.1.\u00e9",  # non-ASCII where the MAC goes: compare_digest would raise
        "sub_01.1234567890.mac",
        ".3.mac",
    ],
)
def test_malformed_tokens_are_refused_without_raising(token: str) -> None:
    assert read_personal_token(SECRET, "unsubscribe", token) is None


def test_a_token_for_another_purpose_or_secret_or_version_is_refused() -> None:
    token = personal_token(SECRET, "manage", "sub_01", 0)
    subject, version, mac = token.split(".")
    assert read_personal_token(SECRET, "unsubscribe", token) is None
    assert read_personal_token("other", "manage", token) is None
    assert read_personal_token(SECRET, "manage", f"{subject}.{int(version) + 1}.{mac}") is None
