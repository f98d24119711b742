"""The demo city's identities (simulation mode only): who they are, their known passwords and
fixed TOTP secrets, the JPKI card file and the demo client. `cityhall up` seeds them on first
start and lists them; `cityhall accounts` lists them, `cityhall totp USER` prints a code.

Everything here is public on purpose (README, CLI output): the gateway accepts none of it
outside simulation mode, and production refuses simulation mode.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gateway.idp.provisioning import DemoAccount
from gateway.settings import DEMO_CLIENT_ID, DEMO_CLIENT_SCOPES, GatewaySettings

DEMO_DIR = "demo"  # under the var dir: the card file
CARD_FILE = "jpki-card-hanako.json"


def totp_secret(user: str) -> str:
    """A fixed base32 secret per demo user (the same on every machine)."""
    digest = hashlib.sha256(f"cityhall-demo-totp:{user}".encode()).digest()[:20]
    return base64.b32encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class DemoIdentity:
    user: str  # the handle for `cityhall totp USER`
    account: DemoAccount
    purpose: str


def _staff(
    user: str,
    account_id: str,
    email: str,
    name: str,
    department: str,
    roles: Sequence[str],
    purpose: str,
) -> DemoIdentity:
    account = DemoAccount(
        id=account_id,
        kind="staff",
        email=email,
        password=f"{user}-demo-pass",
        display_name=name,
        department=department,
        roles=("staff", *roles) if "admin" not in roles else tuple(roles),
        totp_secret=totp_secret(user),
    )
    return DemoIdentity(user, account, purpose)


STAFF_DOMAIN = "city.demo.example.jp"

IDENTITIES: tuple[DemoIdentity, ...] = (
    _staff(
        "admin",
        "stf_demo_admin",
        f"admin@{STAFF_DOMAIN}",
        "管理 一郎",
        "joho",
        ["admin"],
        "every role in every department; /sim, audit export, staff accounts",
    ),
    _staff(
        "auditor",
        "stf_demo_auditor",
        f"auditor@{STAFF_DOMAIN}",
        "監査 涼子",
        "somu",
        ["auditor"],
        "reads the audit log and every department's case files",
    ),
    _staff(
        "shimin",
        "stf_demo_shimin",
        f"shimin.staff@{STAFF_DOMAIN}",
        "窓口 次郎",
        "shimin",
        [],
        "市民課 staff: reviews 電子申請 of the department",
    ),
    _staff(
        "shimin-kacho",
        "stf_demo_shimin_kacho",
        f"shimin.kacho@{STAFF_DOMAIN}",
        "課長 三郎",
        "shimin",
        ["approver"],
        "市民課 approver: decides applications, publishes procedures (four eyes)",
    ),
    _staff(
        "bosai",
        "stf_bosai_taro",
        f"bosai.taro@{STAFF_DOMAIN}",
        "防災 太郎",
        "bosai",
        ["alert_publisher", "emergency_publisher"],
        "危機管理室: drafts alerts, sends emergency alerts and staff call-ups",
    ),
    _staff(
        "kiki",
        "stf_kiki_hanako",
        f"kiki.hanako@{STAFF_DOMAIN}",
        "危機 花子",
        "bosai",
        ["approver"],
        "危機管理室 approver: the second pair of eyes on alerts",
    ),
    _staff(
        "anzen",
        "stf_demo_anzen",
        f"anzen.staff@{STAFF_DOMAIN}",
        "安全 守",
        "seikatsu-anzen",
        ["alert_publisher"],
        "生活安全課: drafts crime-prevention and traffic alerts",
    ),
    _staff(
        "kominkan",
        "stf_kominkan_ken",
        f"kominkan.ken@{STAFF_DOMAIN}",
        "公民館 健",
        "shogai-gakushu",
        ["approver"],
        "生涯学習課: runs the community halls (施設予約 of its facilities)",
    ),
    _staff(
        "sports",
        "stf_demo_sports",
        f"sports.staff@{STAFF_DOMAIN}",
        "体育 勝",
        "sports",
        ["approver"],
        "スポーツ振興課: runs the gym and the sports park",
    ),
    DemoIdentity(
        "taro",
        DemoAccount("cit_demo_taro", "citizen", "taro@example.jp", "taro-demo-pass", "市民 太郎"),
        "a citizen with a verified e-mail address (acr=password)",
    ),
    DemoIdentity(
        "hanako",
        DemoAccount(
            "cit_demo_hanako",
            "citizen",
            "hanako@example.jp",
            "hanako-demo-pass",
            "市民 花子",
            card_file=CARD_FILE,
        ),
        f"a citizen with a My Number card: var/{DEMO_DIR}/{CARD_FILE} logs in with acr=jpki",
    ),
    DemoIdentity(
        "shoji",
        DemoAccount(
            "biz_demo_shoji",
            "business",
            "jimu@demo-shoji.example.jp",
            "shoji-demo-pass",
            "デモ商事株式会社",
        ),
        "a business account (法人): applies and books as a company",
    ),
)


def identity(user: str) -> DemoIdentity:
    for candidate in IDENTITIES:
        if user in (candidate.user, candidate.account.id, candidate.account.email):
            return candidate
    known = ", ".join(i.user for i in IDENTITIES)
    raise LookupError(f"no demo identity {user!r}; the demo users are {known}")


def card_path(settings: GatewaySettings, demo: DemoAccount) -> Path | None:
    return settings.var_dir / DEMO_DIR / demo.card_file if demo.card_file else None


def current_totp(user: str, now: datetime | None = None) -> tuple[str, int]:
    """The demo user's current one-time code and the seconds it stays current."""
    import pyotp

    secret = identity(user).account.totp_secret
    if secret is None:
        raise LookupError(f"{user} is not a staff account: it has no one-time codes")
    totp = pyotp.TOTP(secret)
    moment = now or datetime.now().astimezone()
    remaining = totp.interval - int(moment.timestamp()) % totp.interval
    return totp.at(moment), remaining


def describe(settings: GatewaySettings) -> str:
    """The table `cityhall up` and `cityhall accounts` print."""
    lines = ["demo identities (simulation mode only; `cityhall totp USER` prints a staff code):"]
    width = max(len(i.user) for i in IDENTITIES) + 2
    for item in IDENTITIES:
        demo = item.account
        where = f"{demo.kind} {demo.department}" if demo.department else demo.kind
        roles = f" roles={','.join(demo.roles)}" if demo.kind == "staff" else ""
        lines.append(
            f"  {item.user:<{width}}{demo.email}  password {demo.password}  "
            f"[{where}{roles}] {demo.id}"
        )
        if demo.totp_secret:
            lines.append(f"  {'':<{width}}  TOTP secret {demo.totp_secret}")
        card = card_path(settings, demo)
        if card is not None:
            lines.append(f"  {'':<{width}}  JPKI card file {card}")
        lines.append(f"  {'':<{width}}  {item.purpose}")
    client = settings.service_clients.get(DEMO_CLIENT_ID)
    if client is not None:
        lines.append(
            f"  demo client: client_id={DEMO_CLIENT_ID} "
            f"client_secret={client.secret.get_secret_value()} "
            f"scopes={' '.join(DEMO_CLIENT_SCOPES)}"
        )
    return "\n".join(lines)
