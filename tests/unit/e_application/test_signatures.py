"""Signed filings (公的個人認証): a 住民票 request signed with the mock card's signing
certificate, forged, tampered, expired and revoked signatures refused, prefill from the
certificate, re-verification later, and the gateway publishing its CA and CRL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from typer.testing import CliRunner

from deploy.cli import app as cli
from gateway.app import create_app as create_gateway
from gateway.idp.jpki import MockCA
from gateway.idp.jpki_client import Card
from gateway.idp.jpki_signing import fictional_info, issue_card_with_signing
from gateway.idp.jpki_signing_card import SigningCard
from services.e_application.signing_service import RemoteTrust
from services.kit.jpki_basic_info import basic_info_of
from tests.unit.e_application.support import RESIDENCE_FORM, Api
from tests.unit.gateway_app.support import gateway_settings


async def _draft(api: Api, headers: dict[str, str]) -> dict[str, object]:
    return await api.draft("residence-certificate", RESIDENCE_FORM, headers)


async def test_a_signed_residence_certificate_request_end_to_end(api: Api) -> None:
    citizen = api.citizen("cit_hanako", acr="jpki")
    card = api.ca.card("電子 花子")
    draft = await _draft(api, citizen)
    submitted = await api.sign_and_submit(str(draft["id"]), card, citizen)
    assert submitted.status_code == 200, submitted.text
    body = submitted.json()
    assert body["status"] == "submitted"
    assert body["signature"]["signer_name"] == "電子 花子"
    assert body["signature"]["serial"] == format(card.certificate.serial_number, "x")
    assert body["payment"]["amount_yen"] == 600  # two copies at a fictional 300 yen
    # Staff: review, ask for approval, a second approver decides; the fee is then due.
    reviewer = api.staff("stf_shimin1", "approver")
    approver = api.staff("stf_shimin2", "approver")
    await api.act(str(draft["id"]), "start-review", reviewer)
    await api.act(str(draft["id"]), "request-approval", reviewer)
    approved = await api.act(str(draft["id"]), "approve", approver)
    assert approved.json()["status"] == "awaiting_payment"
    rendered = await api.client.post(
        f"/v1/applications/{draft['id']}/documents/render", json={}, headers=reviewer
    )
    assert rendered.status_code == 201, rendered.text
    kinds = {d["media_type"] for d in rendered.json()}
    assert kinds == {"text/html", "application/pdf"}
    html = next(d for d in rendered.json() if d["media_type"] == "text/html")
    page = await api.client.get(
        f"/v1/applications/{draft['id']}/attachments/{html['id']}", headers=reviewer
    )
    text = page.content.decode()
    assert "住民票の写し" in text
    assert "電子 花子" in text
    assert "見本" in text
    assert "平成2年4月1日" in text  # the card's birth date, in the certificate's era
    pdf = next(d for d in rendered.json() if d["media_type"] == "application/pdf")
    content = (
        await api.client.get(
            f"/v1/applications/{draft['id']}/attachments/{pdf['id']}", headers=reviewer
        )
    ).content
    assert content.startswith(b"%PDF-1.4")
    assert b"HeiseiMin-W3" in content
    assert content.rstrip().endswith(b"%%EOF")


async def test_forged_tampered_expired_and_revoked_signatures_are_refused(api: Api) -> None:
    citizen = api.citizen("cit_x", acr="jpki")
    foreign = SigningCard.from_pem(
        issue_card_with_signing(MockCA.create(), fictional_info("偽造")).file_text
    )
    past = datetime.now(UTC) - timedelta(days=800)
    expired = api.ca.card("期限切れ", not_before=past, days=365)
    revoked = api.ca.card("失効")
    api.ca.revoke(revoked)
    for card, reason in ((foreign, "foreign_ca"), (expired, "expired"), (revoked, "revoked")):
        draft = await _draft(api, citizen)
        response = await api.sign_and_submit(str(draft["id"]), card, citizen)
        assert response.status_code == 422, (reason, response.text)
        assert response.json()["reason"] == reason
        assert response.json()["errors"][0]["field"] == "signature"
    # A valid card's signature over a different payload (the form changed after signing).
    card = api.ca.card()
    draft = await _draft(api, citizen)
    payload = (
        await api.client.get(f"/v1/applications/{draft['id']}/signing-payload", headers=citizen)
    ).json()["payload"]
    await api.client.patch(
        f"/v1/applications/{draft['id']}",
        json={"form": {**RESIDENCE_FORM, "copies": 9}},
        headers=citizen,
    )
    tampered = await api.client.post(
        f"/v1/applications/{draft['id']}/submit", json=card.submission(payload), headers=citizen
    )
    assert tampered.status_code == 422
    assert tampered.json()["reason"] == "bad_signature"
    unsigned = await api.act(str(draft["id"]), "submit", citizen)
    assert unsigned.status_code == 422
    assert unsigned.json()["errors"][0]["field"] == "signature"


async def test_the_form_is_prefilled_from_the_certificate(api: Api) -> None:
    citizen = api.citizen("cit_p", acr="jpki")
    card = api.ca.card("入力 補助")
    draft = await api.draft("residence-certificate", {"copies": 1}, citizen)
    response = await api.client.post(
        f"/v1/applications/{draft['id']}/prefill",
        json={"certificate": card.certificate_pem, "signature": "x" * 16},
        headers=citizen,
    )
    assert response.status_code == 200, response.text
    form = response.json()["form"]
    assert form["name"] == "入力 補助"
    assert form["address"] == "デモ県デモ市中央1丁目1番1号"
    assert form["birth_date"] == "1990-04-01"
    assert form["copies"] == 1


async def test_a_stored_signature_is_verified_again_after_a_revocation(api: Api) -> None:
    citizen = api.citizen("cit_r", acr="jpki")
    card = api.ca.card()
    draft = await _draft(api, citizen)
    assert (await api.sign_and_submit(str(draft["id"]), card, citizen)).status_code == 200
    staff = api.staff("stf_shimin1")
    url = f"/v1/applications/{draft['id']}/signature/verify"
    first = (await api.client.post(url, headers=staff)).json()
    assert first["valid"] is True
    assert first["revoked"] is False
    api.ca.revoke(card, at=datetime.now(UTC) + timedelta(seconds=1))
    later = (await api.client.post(url, headers=staff)).json()
    assert later["revoked"] is True
    assert later["valid"] is True  # revoked after the filing was signed
    auditor = api.tokens.staff("stf_audit", "auditor", department="joho")
    assert (await api.client.post(url, headers=auditor)).status_code == 200
    other = api.staff("stf_z", department="zeimu")
    assert (await api.client.post(url, headers=other)).status_code == 404
    assert (await api.client.post(url, headers=citizen)).status_code == 403


async def test_the_gateway_publishes_its_ca_and_crl(tmp_path: Path) -> None:
    gateway = create_gateway(gateway_settings(tmp_path))
    async with gateway.router.lifespan_context(gateway):
        transport = httpx.ASGITransport(gateway)
        async with httpx.AsyncClient(transport=transport) as client:
            remote = RemoteTrust(client, "http://gateway.test", ttl=0)
            idp = gateway.state.idp
            card = issue_card_with_signing(idp.ca, fictional_info("公開 確認"))
            trust = await remote.trust()
            serial = int(card.signing.serial, 16)
            assert trust.revocation(serial) is None
            await idp.jpki.revoke_card(card.signing.serial, "紛失", "stf_admin")
            assert (await remote.trust()).revocation(serial) is not None
            login = Card.from_pem(card.file_text)  # the login pair still reads first
            assert login.certificate.serial_number == int(card.login.serial, 16)


def test_issue_card_writes_login_and_signing_certificates(tmp_path: Path) -> None:
    out = tmp_path / "card.pem"
    result = CliRunner().invoke(
        cli,
        [
            "jpki",
            "issue-card",
            "--name",
            "札 幌子",
            "--out",
            str(out),
            "--var-dir",
            str(tmp_path),
            "--birth-date",
            "1985-12-24",
            "--sex",
            "female",
        ],
    )
    assert result.exit_code == 0, result.output
    signing = SigningCard.load(out)
    info = basic_info_of(signing.certificate)
    assert info is not None
    assert info.name == "札 幌子"
    assert info.birth_date == "1985-12-24"
    assert info.sex == "female"
    assert Card.load(out).certificate != signing.certificate
