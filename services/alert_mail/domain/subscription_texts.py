"""What subscribers read, in the language they chose: the confirmation mail and the words of
the confirm / manage / unsubscribe pages (ja, en, zh, ko)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LANGUAGE_NAMES: dict[str, str] = {"ja": "日本語", "en": "English", "zh": "中文", "ko": "한국어"}


@dataclass(frozen=True, slots=True)
class Choice:
    """A category or district as the subscriber reads it."""

    code: str
    name_ja: str
    name_en: str

    def name(self, language: str) -> str:
        # Chinese readers read the kanji names; Korean and English readers get the English.
        return self.name_ja if language in ("ja", "zh") else self.name_en


_CONFIRM_SUBJECT = {
    "ja": "【{service}】登録確認のお願い",
    "en": "[{service}] Please confirm your subscription",
    "zh": "【{service}】请确认您的订阅",
    "ko": "[{service}] 구독을 확인해 주세요",
}

_CONFIRM_BODY = {
    "ja": """{service}への登録のお申し込みを受け付けました。
登録を完了するには、{hours}時間以内に次のURLを開き、「登録する」ボタンを押してください。

{url}

お申し込みの内容
  受信する情報：{categories}
  地区：{districts}
  言語：{language}

このメールにお心当たりのない場合は、何もせずにこのメールを削除してください。登録はされません。
このメールは送信専用のアドレスからお送りしています。ご返信いただいてもお答えできません。
""",
    "en": """We received a request to subscribe this address to {service}
(disaster and safety alerts from the city).
To complete it, open the link below within {hours} hours and press "Subscribe".

{url}

Your request
  Information: {categories}
  Areas: {districts}
  Language: {language}

If you did not ask for this, simply delete this mail: nothing will be registered.
This mail was sent from an address that cannot receive replies.
""",
    "zh": """我们收到了用此邮箱订阅“{service}”（市政府发布的防灾与治安信息）的申请。
请在{hours}小时内打开以下链接，并点击“订阅”按钮完成登记。

{url}

申请内容
  接收的信息：{categories}
  地区：{districts}
  语言：{language}

如果您没有提出过此申请，请直接删除本邮件，不会进行任何登记。
本邮件由仅用于发送的地址发出，回复本邮件将无法得到答复。
""",
    "ko": """이 주소로 "{service}"(시에서 보내는 방재・방범 정보) 구독 신청을 받았습니다.
{hours}시간 이내에 아래 링크를 열고 "구독하기" 버튼을 눌러 등록을 완료해 주세요.

{url}

신청 내용
  받을 정보: {categories}
  지역: {districts}
  언어: {language}

신청하신 적이 없다면 이 메일을 삭제해 주세요. 등록되지 않습니다.
이 메일은 발신 전용 주소에서 보냈습니다. 회신하셔도 답변드릴 수 없습니다.
""",
}

_LIST_SEPARATOR = {"ja": "、", "en": ", ", "zh": "、", "ko": ", "}
_PLAIN_JAPANESE = {
    "ja": "（やさしい日本語）",
    "en": " (plain Japanese)",
    "zh": "（简明日语）",
    "ko": " (쉬운 일본어)",
}


# Words of the pages, per language; every language has every key (a test checks).
PAGE_TEXT: dict[str, dict[str, str]] = {
    "ja": {
        "email": "メールアドレス",
        "categories": "受信する情報",
        "districts": "地区",
        "language": "メールの言語",
        "plain_japanese": "やさしい日本語のメールがあるときはそれを受け取る",
        "city_wide": "市内全域",
        "city_wide_hint": "地区を選ばないと、市内全域の情報が届きます。",
        "confirm_title": "登録の確認",
        "confirm_lead": "次の内容で登録します。よろしければ「登録する」を押してください。",
        "confirm_button": "登録する",
        "confirmed_title": "登録が完了しました",
        "confirmed_lead": "選んだ情報をこのアドレスにお届けします。登録内容の変更や配信の停止は、"
        "届いたメールにあるリンクからいつでもできます。",
        "manage_link": "登録内容を確認・変更する",
        "expired_title": "リンクの有効期限が切れています",
        "expired_lead": "お手数ですが、もう一度登録をお申し込みください。",
        "invalid_title": "このリンクは使えません",
        "invalid_lead": "リンクが正しくないか、すでに使えなくなっています。"
        "最新のメールにあるリンクをお使いください。",
        "signup_link": "登録のお申し込みへ",
        "manage_title": "登録内容の変更",
        "manage_save": "変更を保存する",
        "manage_saved": "変更を保存しました。",
        "status_active": "配信中です。",
        "status_suspended": "メールが届かない状態が続いたため、配信を一時停止しています。",
        "status_unsubscribed": "配信を停止しています。",
        "resubscribe_button": "配信を再開する",
        "unsubscribe_button": "配信を停止する",
        "unsubscribe_title": "配信の停止",
        "unsubscribe_lead": "次のアドレスへの配信を停止します。よろしければ「配信を停止する」を"
        "押してください。",
        "unsubscribed_title": "配信を停止しました",
        "unsubscribed_lead": "このアドレスにはメールをお送りしません。再開したいときは、"
        "もう一度登録をお申し込みください。",
        "error_title": "入力内容をご確認ください",
        "error_email": "メールアドレスを正しく入力してください（例：taro@example.jp）。",
        "error_categories": "受信する情報を1つ以上選んでください。",
        "error_districts": "地区の選択をご確認ください。",
        "error_form": "入力内容をご確認ください。",
    },
    "en": {
        "email": "E-mail address",
        "categories": "Information to receive",
        "districts": "Areas",
        "language": "Language of the mail",
        "plain_japanese": "Receive the plain Japanese version when there is one",
        "city_wide": "Whole city",
        "city_wide_hint": "Choose no area to receive information for the whole city.",
        "confirm_title": "Confirm your subscription",
        "confirm_lead": 'You are subscribing with these choices. Press "Subscribe" to confirm.',
        "confirm_button": "Subscribe",
        "confirmed_title": "You are subscribed",
        "confirmed_lead": "We will send the information you chose to this address. You can "
        "change your choices or unsubscribe at any time from the links in every mail.",
        "manage_link": "See or change your choices",
        "expired_title": "This link has expired",
        "expired_lead": "Please sign up again to receive a new link.",
        "invalid_title": "This link does not work",
        "invalid_lead": "The link is wrong or no longer valid. Please use the link in the "
        "latest mail.",
        "signup_link": "Sign up",
        "manage_title": "Change your subscription",
        "manage_save": "Save changes",
        "manage_saved": "Your changes have been saved.",
        "status_active": "Mail is being sent to you.",
        "status_suspended": "Mail to this address kept failing, so sending is paused.",
        "status_unsubscribed": "You are unsubscribed.",
        "resubscribe_button": "Start receiving mail again",
        "unsubscribe_button": "Unsubscribe",
        "unsubscribe_title": "Unsubscribe",
        "unsubscribe_lead": 'Mail to this address will stop. Press "Unsubscribe" to confirm.',
        "unsubscribed_title": "You are unsubscribed",
        "unsubscribed_lead": "We will not send mail to this address. To receive it again, "
        "please sign up again.",
        "error_title": "Please check your input",
        "error_email": "Enter a valid e-mail address (for example taro@example.jp).",
        "error_categories": "Choose at least one kind of information.",
        "error_districts": "Check the areas you chose.",
        "error_form": "Please check your input.",
    },
    "zh": {
        "email": "电子邮箱",
        "categories": "接收的信息",
        "districts": "地区",
        "language": "邮件语言",
        "plain_japanese": "有简明日语版本时接收简明日语版本",
        "city_wide": "全市",
        "city_wide_hint": "不选择地区时，将接收全市的信息。",
        "confirm_title": "确认订阅",
        "confirm_lead": "将按以下内容进行订阅。确认无误后请点击“订阅”。",
        "confirm_button": "订阅",
        "confirmed_title": "订阅已完成",
        "confirmed_lead": "我们会将您选择的信息发送到此邮箱。您可以随时通过邮件中的链接"
        "更改订阅内容或停止接收。",
        "manage_link": "查看或更改订阅内容",
        "expired_title": "链接已过期",
        "expired_lead": "请重新申请订阅。",
        "invalid_title": "此链接无法使用",
        "invalid_lead": "链接不正确或已失效。请使用最新邮件中的链接。",
        "signup_link": "申请订阅",
        "manage_title": "更改订阅内容",
        "manage_save": "保存更改",
        "manage_saved": "已保存更改。",
        "status_active": "正在发送邮件。",
        "status_suspended": "由于邮件持续无法送达，已暂停发送。",
        "status_unsubscribed": "已停止发送。",
        "resubscribe_button": "恢复接收",
        "unsubscribe_button": "停止接收",
        "unsubscribe_title": "停止接收",
        "unsubscribe_lead": "将停止向以下邮箱发送邮件。确认无误后请点击“停止接收”。",
        "unsubscribed_title": "已停止接收",
        "unsubscribed_lead": "我们将不再向此邮箱发送邮件。如需重新接收，请重新申请订阅。",
        "error_title": "请检查输入内容",
        "error_email": "请输入正确的电子邮箱（例如：taro@example.jp）。",
        "error_categories": "请至少选择一项接收的信息。",
        "error_districts": "请检查所选的地区。",
        "error_form": "请检查输入内容。",
    },
    "ko": {
        "email": "이메일 주소",
        "categories": "받을 정보",
        "districts": "지역",
        "language": "메일 언어",
        "plain_japanese": "쉬운 일본어 버전이 있으면 그것을 받기",
        "city_wide": "시 전체",
        "city_wide_hint": "지역을 선택하지 않으면 시 전체의 정보를 받습니다.",
        "confirm_title": "구독 확인",
        "confirm_lead": '아래 내용으로 구독합니다. 괜찮으시면 "구독하기"를 눌러 주세요.',
        "confirm_button": "구독하기",
        "confirmed_title": "구독이 완료되었습니다",
        "confirmed_lead": "선택하신 정보를 이 주소로 보내 드립니다. 구독 내용 변경이나 수신 "
        "중지는 메일에 있는 링크에서 언제든지 할 수 있습니다.",
        "manage_link": "구독 내용 확인・변경",
        "expired_title": "링크의 유효 기간이 지났습니다",
        "expired_lead": "번거로우시겠지만 다시 구독을 신청해 주세요.",
        "invalid_title": "이 링크는 사용할 수 없습니다",
        "invalid_lead": "링크가 올바르지 않거나 더 이상 유효하지 않습니다. 최신 메일의 링크를 "
        "사용해 주세요.",
        "signup_link": "구독 신청",
        "manage_title": "구독 내용 변경",
        "manage_save": "변경 내용 저장",
        "manage_saved": "변경 내용을 저장했습니다.",
        "status_active": "메일을 보내고 있습니다.",
        "status_suspended": "메일이 계속 전달되지 않아 발송을 일시 중지했습니다.",
        "status_unsubscribed": "수신을 중지했습니다.",
        "resubscribe_button": "다시 받기",
        "unsubscribe_button": "수신 중지",
        "unsubscribe_title": "수신 중지",
        "unsubscribe_lead": '아래 주소로의 발송을 중지합니다. 괜찮으시면 "수신 중지"를 눌러 '
        "주세요.",
        "unsubscribed_title": "수신을 중지했습니다",
        "unsubscribed_lead": "이 주소로 메일을 보내지 않습니다. 다시 받으시려면 구독을 다시 "
        "신청해 주세요.",
        "error_title": "입력 내용을 확인해 주세요",
        "error_email": "올바른 이메일 주소를 입력해 주세요 (예: taro@example.jp).",
        "error_categories": "받을 정보를 하나 이상 선택해 주세요.",
        "error_districts": "선택한 지역을 확인해 주세요.",
        "error_form": "입력 내용을 확인해 주세요.",
    },
}


def page_text(language: str) -> Mapping[str, str]:
    return PAGE_TEXT.get(language, PAGE_TEXT["ja"])


def names(choices: Sequence[Choice], language: str, *, empty: str) -> str:
    if not choices:
        return empty
    return _LIST_SEPARATOR.get(language, "、").join(c.name(language) for c in choices)


def language_label(language: str, plain_japanese: bool) -> str:
    label = LANGUAGE_NAMES.get(language, language)
    if language == "ja" and plain_japanese:
        label += _PLAIN_JAPANESE["ja"]
    return label


@dataclass(frozen=True, slots=True)
class ConfirmationMail:
    subject: str
    text: str


def confirmation_mail(
    *,
    service: str,
    url: str,
    hours: int,
    language: str,
    plain_japanese: bool,
    categories: Sequence[Choice],
    districts: Sequence[Choice],
) -> ConfirmationMail:
    lang = language if language in _CONFIRM_BODY else "ja"
    text = page_text(lang)
    body = _CONFIRM_BODY[lang].format(
        service=service,
        url=url,
        hours=hours,
        categories=names(categories, lang, empty="-"),
        districts=names(districts, lang, empty=text["city_wide"]),
        language=language_label(language, plain_japanese),
    )
    return ConfirmationMail(_CONFIRM_SUBJECT[lang].format(service=service), body)


def field_errors(fields: Sequence[str], language: str) -> list[str]:
    """What a form page says about the invalid fields, in the page's language."""
    text = page_text(language)
    return list(dict.fromkeys(text.get(f"error_{f}", text["error_form"]) for f in fields))
