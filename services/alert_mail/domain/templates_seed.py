"""The notification templates the other services use, with stable ids they can name.

Placeholders are English snake_case (they are API fields of `personalisation`); the text is
Japanese, as the citizens read it. `{city}` is the city's name from the seed file."""

from __future__ import annotations

from dataclasses import dataclass

FOOTER = """
――――――――――――――――
{city}役所
このメールは送信専用のアドレスからお送りしています。ご返信いただいてもお答えできません。
お心当たりのない場合は、お手数ですがこのメールを破棄してください。"""


@dataclass(frozen=True, slots=True)
class SeedTemplate:
    id: str
    name: str
    description: str
    subject: str
    body: str


_TEMPLATES = (
    SeedTemplate(
        id="tpl_e_application_received",
        name="申請受付のお知らせ",
        description="e_application: an application was received (受付番号 and next steps)",
        subject="【{city}】((procedure_name))の申請を受け付けました",
        body="""((name)) 様

{city}の電子申請をご利用いただき、ありがとうございます。
次の申請を受け付けました。

手続名: ((procedure_name))
受付番号: ((application_id))
受付日時: ((received_at))
((fee_required??手数料のお支払いが必要です。お支払い方法は別のメールでご案内します。))
審査の状況は、電子申請のマイページでご確認いただけます。
審査の結果は、あらためてお知らせします。
""",
    ),
    SeedTemplate(
        id="tpl_e_application_decided",
        name="審査結果のお知らせ",
        description="e_application: the staff decided an application",
        subject="【{city}】((procedure_name))の審査結果のお知らせ",
        body="""((name)) 様

受付番号 ((application_id)) の申請((procedure_name))について、審査が終わりました。

結果: ((decision))
((comment))

詳しくは、電子申請のマイページでご確認ください。
""",
    ),
    SeedTemplate(
        id="tpl_facility_booking_confirmed",
        name="施設予約確定のお知らせ",
        description="facility_booking: a reservation was confirmed (after lottery or payment)",
        subject="【{city}】施設のご予約が確定しました（((facility_name))）",
        body="""((name)) 様

{city}の施設予約システムをご利用いただき、ありがとうございます。
次のとおりご予約が確定しました。

予約番号: ((reservation_id))
施設: ((facility_name)) ((room_name))
日時: ((date)) ((start_time))〜((end_time))
使用料: ((fee))円
((pay_at_counter??使用料は、ご利用日に窓口でお支払いください。))
ご都合が悪くなった場合は、施設予約システムから早めに取り消しの手続きをお願いします。
""",
    ),
    SeedTemplate(
        id="tpl_facility_booking_lottery_result",
        name="抽選結果のお知らせ",
        description="facility_booking: the result of a monthly lottery",
        subject="【{city}】施設予約の抽選結果のお知らせ（((facility_name))）",
        body="""((name)) 様

((facility_name))の抽選の結果をお知らせします。

申込日時: ((date)) ((start_time))〜((end_time))
抽選結果: ((result))
((won??当選した予約は、期限までに施設予約システムで確定の手続きをしてください。期限を過ぎると当選は無効になります。))
""",
    ),
    SeedTemplate(
        id="tpl_facility_booking_reminder",
        name="施設利用日前日のお知らせ",
        description="facility_booking: the day before a confirmed reservation",
        subject="【{city}】明日は施設のご利用日です（((facility_name))）",
        body="""((name)) 様

明日は次の施設のご利用日です。

予約番号: ((reservation_id))
施設: ((facility_name)) ((room_name))
日時: ((date)) ((start_time))〜((end_time))
ご利用後は、原状回復と消灯・施錠の確認をお願いします。
ご利用をやめる場合は、施設予約システムから取り消しの手続きをしてください。
""",
    ),
    SeedTemplate(
        id="tpl_facility_booking_cancelled",
        name="施設予約取消のお知らせ",
        description="facility_booking: a reservation was cancelled (by the user or the facility)",
        subject="【{city}】施設のご予約が取り消されました（((facility_name))）",
        body="""((name)) 様

次のご予約が取り消されました。

予約番号: ((reservation_id))
施設: ((facility_name)) ((room_name))
日時: ((date)) ((start_time))〜((end_time))
((by_facility??施設の都合により取り消しました。ご迷惑をおかけして申し訳ありません。))
((reason))
返金額: ((refund))円
((refund_due??返金は、お支払いに使われた方法で順次行います。))
""",
    ),
    SeedTemplate(
        id="tpl_facility_booking_waitlist_offer",
        name="キャンセル待ちのご案内",
        description="facility_booking: a slot the user waited for is free and held for them",
        subject="【{city}】キャンセル待ちの枠が空きました（((facility_name))）",
        body="""((name)) 様

キャンセル待ちをしていた次の枠が空きました。

施設: ((facility_name)) ((room_name))
日時: ((date)) ((start_time))〜((end_time))
((offer_expires_at))までに施設予約システムで予約の手続きをしてください。
期限を過ぎると、次にお待ちの方へご案内します。
""",
    ),
    SeedTemplate(
        id="tpl_payments_due",
        name="納付期限のお知らせ",
        description="payments: a payment's deadline is near (konbini / Pay-easy details)",
        subject="【{city}】((item))の納付期限が近づいています",
        body="""((name)) 様

((item))の納付期限が近づいています。期限までにお支払いください。

金額: ((amount))円
納付期限: ((due_date))
お支払い方法: ((payment_method))
((payment_details))
((konbini??払込票をお持ちのうえ、コンビニエンスストアのレジでお支払いください。))
((payeasy??金融機関のATMまたはネットバンキングで、ペイジー（Pay-easy）の番号を入力してお支払いください。))
行き違いでお支払い済みの場合は、ご容赦ください。
""",
    ),
    SeedTemplate(
        id="tpl_payments_received",
        name="納付確認のお知らせ",
        description="payments: a payment was received",
        subject="【{city}】((item))のお支払いを確認しました",
        body="""((name)) 様

次のお支払いを確認しました。ありがとうございました。

内容: ((item))
金額: ((amount))円
お支払い日時: ((paid_at))
お支払い方法: ((method))
""",
    ),
    SeedTemplate(
        id="tpl_gateway_email_verification",
        name="メールアドレス確認",
        description="gateway: confirm the e-mail address of a new account",
        subject="【{city}】メールアドレスの確認をお願いします",
        body="""((name)) 様

{city}の電子窓口へのご登録ありがとうございます。
次のリンクを開いて、メールアドレスの確認を完了してください。

((link))

このリンクの有効期限は((hours))時間です。
""",
    ),
)


def seed_templates(city_name: str) -> list[SeedTemplate]:
    """The templates with the city's name filled in (and the common footer)."""
    return [
        SeedTemplate(
            id=t.id,
            name=t.name,
            description=t.description,
            subject=t.subject.format(city=city_name),
            body=(t.body.rstrip("\n") + "\n" + FOOTER).format(city=city_name),
        )
        for t in _TEMPLATES
    ]
