"""Subscription rules as plain functions: addresses, codes, the state machine, texts."""

from __future__ import annotations

import pytest

from services.alert_mail.domain.subscription_rules import (
    SUBSCRIPTIONS,
    ConfirmationRequest,
    LinkInvalid,
    SubscriptionState,
    Transition,
    address_digest,
    checked_codes,
    may_send_confirmation,
)
from services.alert_mail.domain.subscription_texts import PAGE_TEXT, Choice, confirmation_mail
from services.kit.email_address import normalise_email
from services.kit.errors import IllegalTransition, UnprocessableContent


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Taro.Yamada@Example.JP", "Taro.Yamada@example.jp"),
        ("  hanako+bousai@city.example.jp ", "hanako+bousai@city.example.jp"),
        ("user@市役所.jp", "user@xn--7sto6a74d.jp"),
        ("o'brien@example.co.jp", "o'brien@example.co.jp"),
    ],
)
def test_addresses_are_normalised(raw: str, normalised: str) -> None:
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "plain",
        "@example.jp",
        "a@",
        "a..b@example.jp",
        ".a@example.jp",
        '"quoted"@example.jp',
        "a@localhost",
        "a@-bad.example.jp",
        "a@example.123",
        "a@exa_mple.jp",
        "x" * 65 + "@example.jp",
        "a@" + "b" * 250 + ".jp",
        "a@example.jp>, b@example.jp",
    ],
)
def test_addresses_that_would_not_deliver_or_would_inject_are_refused(raw: str) -> None:
    with pytest.raises(UnprocessableContent) as caught:
        normalise_email(raw)
    assert caught.value.extensions["errors"][0]["field"] == "email"


def test_codes_are_checked_in_order_and_deduplicated() -> None:
    known = ["disaster", "weather", "events"]
    assert checked_codes(
        ["weather", "disaster", "weather"], known, "categories", required=True
    ) == (
        "weather",
        "disaster",
    )
    assert checked_codes([], known, "districts", required=False) == ()
    with pytest.raises(UnprocessableContent) as caught:
        checked_codes(["disaster", "events", "nope"], known, "categories", required=True)
    assert caught.value.extensions["errors"][0]["field"] == "categories[2]"
    with pytest.raises(UnprocessableContent):
        checked_codes([], known, "categories", required=True)


def test_the_state_machine_allows_only_its_transitions() -> None:
    assert (
        SUBSCRIPTIONS.apply("unsubscribed", Transition.UNSUBSCRIBE)
        is SubscriptionState.UNSUBSCRIBED
    )
    assert SUBSCRIPTIONS.apply("suspended", Transition.RESUBSCRIBE) is SubscriptionState.ACTIVE
    for state in SubscriptionState:
        assert SUBSCRIPTIONS.apply(state, Transition.CONFIRM) is SubscriptionState.ACTIVE
    with pytest.raises(IllegalTransition) as caught:
        SUBSCRIPTIONS.apply("active", Transition.RESUBSCRIBE)
    assert caught.value.current_state == "active"
    with pytest.raises(IllegalTransition):
        SUBSCRIPTIONS.apply("unsubscribed", Transition.SUSPEND)
    with pytest.raises(IllegalTransition):
        SUBSCRIPTIONS.apply("deleted", Transition.CONFIRM)
    assert len(SUBSCRIPTIONS.table) == 11


def test_throttle_and_digest() -> None:
    assert may_send_confirmation(2, 3)
    assert not may_send_confirmation(3, 3)
    assert address_digest("s", "A@Example.jp") == address_digest("s", "a@example.jp")
    assert address_digest("s", "a@example.jp") != address_digest("t", "a@example.jp")
    assert "example" not in address_digest("s", "a@example.jp")


def test_a_confirmation_request_round_trips_through_its_claims() -> None:
    request = ConfirmationRequest(
        email="a@example.jp",
        categories=("disaster",),
        districts=("chuo", "nanbu"),
        language="ko",
        plain_japanese=False,
        owner="cit_1",
    )
    claims = {"sub": request.email, **request.claims()}
    again = ConfirmationRequest.from_claims(claims)
    assert again.categories == request.categories
    assert again.districts == request.districts
    assert (again.language, again.owner) == ("ko", "cit_1")
    assert again.jti == claims["jti"]
    with pytest.raises(LinkInvalid):
        ConfirmationRequest.from_claims({"sub": "a@example.jp", "cat": []})


def test_every_language_has_every_page_text() -> None:
    keys = set(PAGE_TEXT["ja"])
    for language in ("en", "zh", "ko"):
        assert set(PAGE_TEXT[language]) == keys, language


def test_confirmation_mail_names_choices_and_city_wide() -> None:
    mail = confirmation_mail(
        service="デモ市 防災・防犯メール",
        url="http://city.test/v1/subscriptions/confirm?token=t",
        hours=24,
        language="ja",
        plain_japanese=True,
        categories=[Choice("disaster", "災害情報", "Disaster"), Choice("weather", "気象情報", "W")],
        districts=[],
    )
    assert mail.subject == "【デモ市 防災・防犯メール】登録確認のお願い"
    assert "受信する情報：災害情報、気象情報" in mail.text
    assert "地区：市内全域" in mail.text
    assert "日本語（やさしい日本語）" in mail.text
    assert "24時間以内" in mail.text
