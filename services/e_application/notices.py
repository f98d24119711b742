"""Mail to the applicant at each step (received, returned, decided, fee due, completed),
through alert_mail's templates and the kit outbox, in the applicant's language."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application.domain.catalogue import ProcedureDefinition
from services.e_application.models import Application
from services.kit.clock import JST
from services.kit.notify import enqueue_notification


class Notice(StrEnum):
    RECEIVED = "tpl_e_application_received"
    RETURNED = "tpl_e_application_returned"
    DECIDED = "tpl_e_application_decided"
    PAYMENT_DUE = "tpl_e_application_payment_due"
    COMPLETED = "tpl_e_application_completed"


METHOD_NAMES = {
    "ja": {"konbini": "コンビニエンスストア", "payeasy": "ペイジー", "card": "クレジットカード"},
    "en": {"konbini": "convenience store", "payeasy": "Pay-easy", "card": "credit card"},
}
DECISIONS = {
    "ja": {"approved": "承認", "rejected": "却下"},
    "en": {"approved": "approved", "rejected": "rejected"},
}


def _language(application: Application) -> str:
    return "en" if application.locale == "en" else "ja"


def when(moment: datetime, language: str) -> str:
    local = moment.astimezone(JST)
    if language == "en":
        return local.strftime("%Y-%m-%d %H:%M (JST)")
    return f"{local.year}年{local.month}月{local.day}日 {local.hour:02d}時{local.minute:02d}分"


def field_titles(spec: ProcedureDefinition, pointers: list[str]) -> list[str]:
    """The form's own titles of the fields to correct (`/supply_address` → 使用場所)."""
    properties: Mapping[str, Any] = spec.form_schema.get("properties", {})
    titles = []
    for pointer in pointers:
        top = pointer.lstrip("/").split("/")[0]
        prop = properties.get(top)
        title = prop.get("title") if isinstance(prop, dict) else None
        titles.append(f"{title}（{pointer}）" if isinstance(title, str) else pointer)
    return titles


async def send(
    session: AsyncSession,
    application: Application,
    spec: ProcedureDefinition,
    notice: Notice,
    *,
    now: datetime,
    **values: Any,
) -> str | None:
    """Queues the notice in the caller's transaction; None when there is nobody to mail."""
    if not application.contact_email:
        return None
    language = _language(application)
    name = application.form.get("name")
    if not isinstance(name, str) or not name:
        name = "申請者" if language == "ja" else "applicant"
    personalisation = {
        "name": name,
        "procedure_name": spec.name_en if language == "en" else spec.name_ja,
        "application_id": application.reference or application.id,
        **values,
    }
    template = notice.value + ("_en" if language == "en" else "")
    return await enqueue_notification(
        session,
        template_id=template,
        email_address=application.contact_email,
        personalisation=personalisation,
        reference=application.id,
        now=now,
    )


def decision(application: Application, outcome: str) -> str:
    return DECISIONS[_language(application)][outcome]


def method_names(application: Application, methods: list[str]) -> str:
    names = METHOD_NAMES[_language(application)]
    return ("、" if _language(application) == "ja" else ", ").join(names[m] for m in methods)
