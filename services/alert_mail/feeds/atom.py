"""The Atom feed (RFC 4287) of current alerts; each entry links to its CAP document, as CAP
feeds of alerting authorities do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from services.alert_mail.feeds.cap import CAP_MEDIA_TYPE, cap_time
from services.alert_mail.models import Alert, Category

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

_TITLES = {
    "ja": "{city} 防災・防犯メール 発表中の情報",
    "ja-plain": "{city} ぼうさい・ぼうはん メール いま でている おしらせ",
    "en": "{city} safety alerts in effect",
    "zh": "{city} 防灾・防范信息 当前发布",
    "ko": "{city} 방재・방범 메일 발표 중인 정보",
}
_PREFIXES = {
    "Update": {
        "ja": "【続報】",
        "ja-plain": "【つづき】",
        "en": "Update: ",
        "zh": "【更新】",
        "ko": "[속보] ",
    },
    "Cancel": {
        "ja": "【解除】",
        "ja-plain": "【おわり】",
        "en": "Cancelled: ",
        "zh": "【解除】",
        "ko": "[해제] ",
    },
}
_XML_LANGS = {"ja": "ja", "ja-plain": "ja", "en": "en", "zh": "zh", "ko": "ko"}


@dataclass(frozen=True, slots=True)
class FeedInfo:
    feed_url: str  # this feed (rel="self")
    cap_url: str  # "{...}/v1/feeds/cap/{id}.xml" with {id} to fill in
    authority: str  # the domain in tag: URIs
    city_ja: str
    city_en: str


def _city(info: FeedInfo, language: str) -> str:
    return info.city_ja if language in ("ja", "ja-plain", "zh") else info.city_en


def entry_id(info: FeedInfo, alert_id: str) -> str:
    """A permanent id (RFC 4151 tag URI) that survives a change of host name."""
    return f"tag:{info.authority},2026:alerts/{alert_id}"


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM_NAMESPACE}}}{name}")
    if text is not None:
        element.text = text
    return element


def _text(alert: Alert, language: str) -> Mapping[str, str]:
    content: Mapping[str, Mapping[str, str]] = alert.content
    return content.get(language) or content["ja"]


def build_atom(
    alerts: Sequence[Alert],
    *,
    info: FeedInfo,
    categories: Mapping[str, Category],
    language: str,
    updated: datetime,
) -> bytes:
    """`alerts` newest first; `updated` is when the feed last changed."""
    feed = etree.Element(f"{{{ATOM_NAMESPACE}}}feed", nsmap={None: ATOM_NAMESPACE})  # type: ignore[dict-item]
    feed.set(XML_LANG, _XML_LANGS[language])
    _sub(feed, "id", f"tag:{info.authority},2026:alerts")
    _sub(feed, "title", _TITLES[language].format(city=_city(info, language)))
    _sub(feed, "updated", cap_time(updated))
    _sub(_sub(feed, "author"), "name", _city(info, language))
    self_link = _sub(feed, "link")
    self_link.set("rel", "self")
    self_link.set("href", info.feed_url)
    for alert in alerts:
        _entry(feed, alert, info=info, category=categories.get(alert.category), language=language)
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _entry(
    feed: etree._Element,
    alert: Alert,
    *,
    info: FeedInfo,
    category: Category | None,
    language: str,
) -> None:
    if alert.sent_at is None:
        raise ValueError(f"{alert.id} has not been sent")
    text = _text(alert, language)
    entry = _sub(feed, "entry")
    _sub(entry, "id", entry_id(info, alert.id))
    prefix = _PREFIXES.get(alert.msg_type, {}).get(language, "")
    _sub(entry, "title", prefix + text["headline"])
    _sub(entry, "updated", cap_time(alert.sent_at))
    _sub(entry, "published", cap_time(alert.sent_at))
    link = _sub(entry, "link")
    link.set("rel", "alternate")
    link.set("type", CAP_MEDIA_TYPE)
    link.set("href", info.cap_url.format(id=alert.id))
    if category is not None:
        term = _sub(entry, "category")
        term.set("term", category.code)
        term.set("label", category.name_ja if language.startswith("ja") else category.name_en)
    summary = text["body"]
    if text.get("instruction"):
        summary = f"{summary}\n{text['instruction']}"
    _sub(entry, "summary", summary)
