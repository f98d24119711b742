"""The notification templates the other services use, with stable ids they can name.

Placeholders are English snake_case (they are API fields of `personalisation`); the text is
Japanese, as the citizens read it, and English for the templates a service sends residents
who chose English (ids ending in `_en`). `{city}` is the city's name from the seed file, in
the template's language."""

from __future__ import annotations

from dataclasses import dataclass

FOOTER = """
――――――――――――――――
{city}役所
このメールは送信専用のアドレスからお送りしています。ご返信いただいてもお答えできません。
お心当たりのない場合は、お手数ですがこのメールを破棄してください。"""

FOOTER_EN = """
――――――――――――――――
{city} City Hall
This mail was sent from an address that cannot receive replies.
If you did not expect it, please discard it."""


@dataclass(frozen=True, slots=True)
class SeedTemplate:
    id: str
    name: str
    description: str
    subject: str
    body: str
    language: str = "ja"


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
        id="tpl_e_application_returned",
        name="申請内容の補正のお願い",
        description="e_application: staff returned an application for correction (補正)",
        subject="【{city}】((procedure_name))の申請内容の補正をお願いします",
        body="""((name)) 様

受付番号 ((application_id)) の申請((procedure_name))について、内容の補正（修正）をお願いします。

補正が必要な項目:
((fields))

担当課からのご連絡:
((message))

補正期限: ((deadline))
期限までに電子申請のマイページから修正し、再提出してください。期限を過ぎると、申請は受け付けできなくなります。
""",
    ),
    SeedTemplate(
        id="tpl_e_application_payment_due",
        name="手数料のお支払いのお願い",
        description="e_application: an approved application waits for its fee",
        subject="【{city}】((procedure_name))の手数料のお支払いのお願い",
        body="""((name)) 様

受付番号 ((application_id)) の申請((procedure_name))は承認されました。
交付の前に、手数料のお支払いをお願いします。

手数料: ((amount))円（デモ用の架空の金額です）
お支払い方法: ((payment_methods))

電子申請のマイページでお支払い方法を選ぶと、コンビニエンスストアの払込番号やペイジーの番号が表示されます。
""",
    ),
    SeedTemplate(
        id="tpl_e_application_completed",
        name="交付・手続完了のお知らせ",
        description="e_application: an application was completed (documents issued)",
        subject="【{city}】((procedure_name))の手続が完了しました",
        body="""((name)) 様

受付番号 ((application_id)) の申請((procedure_name))の手続が完了しました。
((documents??交付文書は、電子申請のマイページから閲覧・ダウンロードできます。))
((paid??手数料のお支払いを確認しました。ありがとうございました。))
""",
    ),
    SeedTemplate(
        id="tpl_e_application_received_en",
        name="Application received",
        description="e_application: an application was received, in English",
        subject="[{city}] Your application for ((procedure_name)) was received",
        body="""Dear ((name)),

Thank you for applying online to {city}. We have received the following application.

Procedure: ((procedure_name))
Reference number: ((application_id))
Received at: ((received_at))
((fee_required??A fee is due; we will tell you how to pay in a separate mail.))
You can follow the review on your My Page. We will let you know the result.
""",
        language="en",
    ),
    SeedTemplate(
        id="tpl_e_application_returned_en",
        name="Please correct your application",
        description="e_application: staff returned an application for correction, in English",
        subject="[{city}] Please correct your application for ((procedure_name))",
        body="""Dear ((name)),

Your application ((application_id)) for ((procedure_name)) needs corrections.

Fields to correct:
((fields))

Message from the division:
((message))

Deadline: ((deadline))
Please correct it on your My Page and submit it again before the deadline.
After the deadline, the application can no longer be accepted.
""",
        language="en",
    ),
    SeedTemplate(
        id="tpl_e_application_decided_en",
        name="Decision on your application",
        description="e_application: the staff decided an application, in English",
        subject="[{city}] Decision on your application for ((procedure_name))",
        body="""Dear ((name)),

The review of your application ((application_id)) for ((procedure_name)) is finished.

Result: ((decision))
((comment))

See your My Page for details.
""",
        language="en",
    ),
    SeedTemplate(
        id="tpl_e_application_payment_due_en",
        name="Please pay the fee",
        description="e_application: an approved application waits for its fee, in English",
        subject="[{city}] Please pay the fee for ((procedure_name))",
        body="""Dear ((name)),

Your application ((application_id)) for ((procedure_name)) was approved.
Please pay the fee before we issue it.

Fee: ((amount)) yen (a fictional demo amount)
Payment methods: ((payment_methods))

Choose a payment method on your My Page to see the convenience-store or Pay-easy numbers.
""",
        language="en",
    ),
    SeedTemplate(
        id="tpl_e_application_completed_en",
        name="Your application is complete",
        description="e_application: an application was completed, in English",
        subject="[{city}] Your application for ((procedure_name)) is complete",
        body="""Dear ((name)),

Your application ((application_id)) for ((procedure_name)) is complete.
((documents??The issued documents are on your My Page to read and download.))
((paid??We have received your payment. Thank you.))
""",
        language="en",
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


def seed_templates(city_name: str, city_name_en: str = "Demo City") -> list[SeedTemplate]:
    """The templates with the city's name filled in (and the common footer), each in its
    language."""
    seeded = []
    for t in _TEMPLATES:
        english = t.language == "en"
        city = city_name_en if english else city_name
        footer = FOOTER_EN if english else FOOTER
        seeded.append(
            SeedTemplate(
                id=t.id,
                name=t.name,
                description=t.description,
                subject=t.subject.format(city=city),
                body=(t.body.rstrip("\n") + "\n" + footer).format(city=city),
                language=t.language,
            )
        )
    return seeded
