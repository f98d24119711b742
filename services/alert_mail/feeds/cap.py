"""An alert as a CAP 1.2 document (OASIS Common Alerting Protocol), one <info> per language.

CAP's dateTime pattern requires an explicit offset without fractions (`2026-11-21T18:00:00+09:00`;
"Z" is not allowed), so every time is written in JST to the second."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from lxml import etree

from services.alert_mail.models import Alert, Category, District
from services.kit.clock import JST

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MEDIA_TYPE = "application/cap+xml"

# Our content languages as CAP (RFC 3066) language tags; やさしい日本語 as a private-use subtag.
LANGUAGE_TAGS = {
    "ja": "ja-JP",
    "ja-plain": "ja-JP-x-yasashii",
    "en": "en-US",
    "zh": "zh-CN",
    "ko": "ko-KR",
}
LANGUAGE_ORDER = tuple(LANGUAGE_TAGS)

# CAP 1.2 <category> of each of the city's mail categories; anything else is "Other".
CAP_CATEGORIES = {
    "disaster": "Safety",
    "weather": "Met",
    "bosai-musen": "Safety",
    "suspicious-person": "Security",
    "crime-prevention": "Security",
    "traffic-accident": "Transport",
    "holiday-doctor": "Health",
    "school-nursery": "Safety",
}

_WHOLE_CITY = {
    "ja": "{city}全域",
    "ja-plain": "{city} ぜんぶの ちいき",
    "en": "All of {city}",
    "zh": "{city}全域",
    "ko": "{city} 전역",
}
_LIST_SEPARATORS = {"ja": "、", "ja-plain": "、", "zh": "、"}


@dataclass(frozen=True, slots=True)
class CapSender:
    address: str  # CAP <sender>: no spaces, commas or < &
    name_ja: str
    name_en: str

    @classmethod
    def from_mail_from(cls, mail_from: str, *, name_ja: str, name_en: str) -> CapSender:
        return cls(address=parseaddr(mail_from)[1], name_ja=name_ja, name_en=name_en)

    def name(self, language: str) -> str:
        return self.name_ja if language.startswith("ja") else self.name_en


def cap_time(moment: datetime) -> str:
    return moment.astimezone(JST).replace(microsecond=0).isoformat()


def cap_category(code: str) -> str:
    return CAP_CATEGORIES.get(code, "Other")


def _japanese_names(language: str) -> bool:
    return language in ("ja", "ja-plain", "zh")  # Chinese readers read the kanji names


def event_name(category: Category, language: str) -> str:
    return category.name_ja if _japanese_names(language) else category.name_en


def area_description(districts: Sequence[District], language: str, sender: CapSender) -> str:
    if not districts:
        city = sender.name_ja if _japanese_names(language) else sender.name_en
        return _WHOLE_CITY[language].format(city=city)
    names = [d.name_ja if _japanese_names(language) else d.name_en for d in districts]
    return _LIST_SEPARATORS.get(language, ", ").join(names)


def references_value(sender: CapSender, referenced: Alert) -> str:
    """CAP's `sender,identifier,sent` triple of the alert an Update or Cancel replaces."""
    if referenced.sent_at is None:
        raise ValueError(f"{referenced.id} was never sent")
    return f"{sender.address},{referenced.id},{cap_time(referenced.sent_at)}"


def _sub(parent: etree._Element, name: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CAP_NAMESPACE}}}{name}")
    element.text = text
    return element


def build_cap(
    alert: Alert,
    *,
    sender: CapSender,
    category: Category,
    districts: Sequence[District],
    referenced: Alert | None,
) -> bytes:
    if alert.sent_at is None:
        raise ValueError(f"{alert.id} has not been sent")
    root = etree.Element(f"{{{CAP_NAMESPACE}}}alert", nsmap={None: CAP_NAMESPACE})  # type: ignore[dict-item]
    _sub(root, "identifier", alert.id)
    _sub(root, "sender", sender.address)
    _sub(root, "sent", cap_time(alert.sent_at))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", alert.msg_type)
    _sub(root, "scope", "Public")
    if referenced is not None:
        _sub(root, "references", references_value(sender, referenced))
    content: Mapping[str, Mapping[str, str]] = alert.content
    for language in LANGUAGE_ORDER:
        if language in content:
            _info(root, alert, language, content[language], sender, category, districts)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _info(
    root: etree._Element,
    alert: Alert,
    language: str,
    text: Mapping[str, str],
    sender: CapSender,
    category: Category,
    districts: Sequence[District],
) -> None:
    info = etree.SubElement(root, f"{{{CAP_NAMESPACE}}}info")
    _sub(info, "language", LANGUAGE_TAGS[language])
    _sub(info, "category", cap_category(alert.category))
    _sub(info, "event", event_name(category, language))
    _sub(info, "urgency", alert.urgency)
    _sub(info, "severity", alert.severity)
    _sub(info, "certainty", alert.certainty)
    _sub(info, "expires", cap_time(alert.expires_at))
    _sub(info, "senderName", sender.name(language))
    _sub(info, "headline", text["headline"])
    _sub(info, "description", text["body"])
    if text.get("instruction"):
        _sub(info, "instruction", text["instruction"])
    area = etree.SubElement(info, f"{{{CAP_NAMESPACE}}}area")
    _sub(area, "areaDesc", area_description(districts, language, sender))
