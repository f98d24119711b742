"""The languages alert_mail writes mail in (templates, subscriptions, notifications). Feeds
add `ja-plain` (やさしい日本語), routes/feeds.FeedLanguage."""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    JA = "ja"
    EN = "en"
    ZH = "zh"
    KO = "ko"
