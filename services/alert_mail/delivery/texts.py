"""The fixed wording of alert mails, per language (ja, やさしい日本語, en, zh, ko)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Wording:
    subject: str  # {title} {headline}
    instruction: str
    districts: str
    whole_city: str
    separator: str  # between district names
    sent: str
    expires: str
    manage: str
    unsubscribe: str
    no_reply: str


WORDING: Final[dict[str, Wording]] = {
    "ja": Wording(
        subject="【{title}】{headline}",
        instruction="■ とるべき行動",
        districts="■ 対象地区：",
        whole_city="市内全域",
        separator="、",
        sent="■ 発信日時：",
        expires="■ 有効期限：",
        manage="配信内容の変更：",
        unsubscribe="配信停止：",
        no_reply="このメールは送信専用です。返信はできません。",
    ),
    "ja-plain": Wording(
        subject="【{title}】{headline}",
        instruction="■ すること",
        districts="■ 地区（ちく）：",
        whole_city="市（し）の ぜんぶ",
        separator="、",
        sent="■ 送った 時間（じかん）：",
        expires="■ いつまで：",
        manage="メールの 設定（せってい）を 変える：",
        unsubscribe="メールを 止める：",
        no_reply="この メールに 返事（へんじ）は できません。",
    ),
    "en": Wording(
        subject="[{title}] {headline}",
        instruction="What to do:",
        districts="Areas: ",
        whole_city="the whole city",
        separator=", ",
        sent="Sent: ",
        expires="Valid until: ",
        manage="Change your settings: ",
        unsubscribe="Unsubscribe: ",
        no_reply="This is an automated message; replies are not read.",
    ),
    "zh": Wording(
        subject="【{title}】{headline}",
        instruction="■ 应采取的行动",
        districts="■ 对象地区：",
        whole_city="全市",
        separator="、",
        sent="■ 发布时间：",
        expires="■ 有效期限：",
        manage="更改订阅设置：",
        unsubscribe="退订：",
        no_reply="本邮件为系统自动发送，请勿回复。",
    ),
    "ko": Wording(
        subject="【{title}】{headline}",
        instruction="■ 행동 요령",
        districts="■ 대상 지역: ",
        whole_city="시 전역",
        separator=", ",
        sent="■ 발신 일시: ",
        expires="■ 유효 기한: ",
        manage="수신 설정 변경: ",
        unsubscribe="수신 거부: ",
        no_reply="이 메일은 발신 전용입니다. 회신할 수 없습니다.",
    ),
}

DEFAULT_TITLES: Final[dict[str, str]] = {
    "ja": "デモ市 防災・防犯メール",
    "ja-plain": "デモ市 ぼうさい・ぼうはん メール",
    "en": "Demo City Safety Mail",
    "zh": "示范市 防灾防犯邮件",
    "ko": "데모시 방재·방범 메일",
}

# District names exist in Japanese and English; the other languages read the English ones.
NAME_LANGUAGE: Final[dict[str, str]] = {"ja": "ja", "ja-plain": "ja"}
