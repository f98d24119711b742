"""The user grants of the token endpoint (RFC 6749 §4.3 password, §6 refresh_token, and the
e-mail login link as an extension grant, §4.5). The endpoint itself (with
client_credentials) is `gateway.routes.oauth.token`."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.idp.context import TokenSet
from gateway.idp.service import IdentityProvider
from gateway.oauth_errors import InvalidRequest

EMAIL_LINK_GRANT = "urn:cityhall:params:oauth:grant-type:email-link"
USER_GRANTS = frozenset({"password", "refresh_token", EMAIL_LINK_GRANT})
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise InvalidRequest(f"{name} is required")
    if len(value) > 1024:
        raise InvalidRequest(f"{name} is too long")
    return value


async def user_grant(
    idp: IdentityProvider, grant_type: str, form: Mapping[str, str], ip: str | None
) -> TokenSet:
    if grant_type == "password":
        tokens = await idp.password.grant(
            username=_required(form, "username"),
            password=_required(form, "password"),
            totp=form.get("totp") or None,
            ip=ip,
        )
    elif grant_type == EMAIL_LINK_GRANT:
        tokens = await idp.email_links.grant(_required(form, "link_token"))
    else:
        tokens = await idp.refresh.grant(_required(form, "refresh_token"))
    return tokens
