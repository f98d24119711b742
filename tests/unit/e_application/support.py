"""What e_application's tests share: the running service with the demo catalogue, real signed
tokens for applicants and staff, a real mock JPKI CA whose revocation list is built and
signed on every read (as the gateway publishes it), and small request helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from sqlmodel import col, select

from gateway.idp.jpki import MockCA
from gateway.idp.jpki_signing import (
    IssuedSigningCard,
    build_crl,
    fictional_info,
    issue_card_with_signing,
)
from gateway.idp.jpki_signing_card import SigningCard
from services.e_application.domain import signatures
from services.kit.app import ServiceRuntime
from services.kit.audit import AUDIT_TOPIC
from services.kit.tables import OutboxMessage
from tests.support.tokens import TokenFactory

CITY_FILE = Path(__file__).parents[3] / "deploy" / "seed" / "demo_city.json"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%mock\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def demo_city() -> dict[str, Any]:
    city: dict[str, Any] = json.loads(CITY_FILE.read_text(encoding="utf-8"))
    return city


@dataclass
class CardAuthority:
    """A real mock CA; its CRL is rebuilt and signed from `revoked` on every read."""

    ca: MockCA = field(default_factory=MockCA.create)
    revoked: list[tuple[str, datetime]] = field(default_factory=list)

    async def trust(self) -> signatures.Trust:
        pem = build_crl(self.ca, self.revoked)
        ca_pem = self.ca.cert.public_bytes(serialization.Encoding.PEM)
        return signatures.load_trust(ca_pem, pem)

    def card(self, name: str = "電子 花子", **kwargs: Any) -> SigningCard:
        issued = self.issue(name, **kwargs)
        return SigningCard.from_pem(issued.file_text)

    def issue(self, name: str = "電子 花子", **kwargs: Any) -> IssuedSigningCard:
        info = fictional_info(name, sex="female")
        return issue_card_with_signing(self.ca, info, **kwargs)

    def revoke(self, card: SigningCard, at: datetime | None = None) -> None:
        serial = format(card.certificate.serial_number, "x")
        self.revoked.append((serial, at or datetime.now(UTC) - timedelta(seconds=1)))


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    tokens: TokenFactory
    ca: CardAuthority

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime

    def citizen(self, sub: str = "cit_a", acr: str = "email") -> dict[str, str]:
        return self.tokens.headers(sub, kind="citizen", acr=acr, email=f"{sub}@example.jp")

    def staff(self, sub: str = "stf_a", *roles: str, department: str = "shimin") -> dict[str, str]:
        return self.tokens.staff(sub, *(roles or ("staff",)), department=department)

    async def draft(
        self, code: str, form: dict[str, Any], headers: dict[str, str], **extra: Any
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/v1/applications",
            json={"procedure_code": code, "form": form, **extra},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def submitted(
        self, code: str, form: dict[str, Any], headers: dict[str, str], **extra: Any
    ) -> dict[str, Any]:
        return await self.draft(code, form, headers, submit=True, **extra)

    async def attach(
        self,
        application_id: str,
        headers: dict[str, str],
        content: bytes = PDF,
        *,
        kind: str = "document",
        filename: str = "doc.pdf",
    ) -> httpx.Response:
        return await self.client.post(
            f"/v1/applications/{application_id}/attachments",
            files={"file": (filename, content, "application/octet-stream")},
            data={"kind": kind},
            headers=headers,
        )

    async def act(
        self, application_id: str, action: str, headers: dict[str, str], **body: Any
    ) -> httpx.Response:
        return await self.client.post(
            f"/v1/applications/{application_id}/{action}", json=body, headers=headers
        )

    async def sign_and_submit(
        self, application_id: str, card: SigningCard, headers: dict[str, str]
    ) -> httpx.Response:
        payload = await self.client.get(
            f"/v1/applications/{application_id}/signing-payload", headers=headers
        )
        assert payload.status_code == 200, payload.text
        return await self.client.post(
            f"/v1/applications/{application_id}/submit",
            json=card.submission(payload.json()["payload"]),
            headers=headers,
        )

    async def audit_actions(self) -> list[tuple[str, str]]:
        async with self.runtime.db.session(write=False) as session:
            rows = await session.exec(
                select(OutboxMessage).where(col(OutboxMessage.topic) == AUDIT_TOPIC)
            )
            return [(r.payload["action"], r.payload["target"]) for r in rows.all()]


LECTURE_FORM = {
    "name": "講座 太郎",
    "email": "taro@example.jp",
    "participants": 1,
    "childcare_needed": False,
}
INQUIRY_FORM = {"subject": "ごみの日", "body": "収集日を教えてください。", "reply_wanted": False}
RESIDENCE_FORM: dict[str, Any] = {
    "name": "電子 花子",
    "address": "デモ県デモ市中央1丁目1番1号",
    "birth_date": "1990-04-01",
    "copies": 2,
    "purpose": "procedure",
    "delivery": "mail",
    "include_household": False,
    "include_domicile": False,
}
