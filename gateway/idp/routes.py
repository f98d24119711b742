"""The identity provider's routes under /auth (the token endpoint lives in
gateway.routes.oauth and hands the user grants to gateway.idp.grants)."""

from __future__ import annotations

import base64
import binascii
import html
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from gateway.idp import pages
from gateway.idp.deps import IdpDep
from gateway.idp.errors import JpkiBadSignature
from gateway.idp.grants import EMAIL_LINK_GRANT, NO_STORE
from gateway.idp.jpki import parse_certificate
from gateway.idp.schemas import (
    Accepted,
    AccountView,
    Challenge,
    EmailLoginRequest,
    Identity,
    JpkiTokenRequest,
    LogoutRequest,
    RegisterRequest,
    RevocationCreate,
    RevocationView,
    RolesUpdate,
    SetPasswordRequest,
    StaffCreate,
    StaffCreated,
    TotpConfirm,
    TotpEnrolment,
    VerifyEmailRequest,
)
from gateway.oauth_errors import InvalidRequest
from gateway.routes.oauth import _form  # the token endpoint's strict form reader
from services.kit.auth import (
    Admin,
    AnyPrincipal,
    OptionalPrincipal,
    Principal,
    Public,
    TokenVerifier,
    staff,
)
from services.kit.errors import AppError, UnprocessableContent
from services.kit.openapi import PAGE_OR_PROBLEM
from services.kit.problems import wants_html

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", status_code=202, response_model=Accepted, summary="Register an account")
async def register(body: RegisterRequest, idp: IdpDep, _: Public) -> Accepted:
    """Creates a citizen or business account and mails a verification link. The answer is
    the same whether or not the address was registered before (that owner gets a notice)."""
    await idp.accounts.register(
        kind=body.kind, email=body.email, password=body.password, display_name=body.display_name
    )
    return Accepted(
        status="verification_sent",
        message="確認メールを送信しました。/ We sent a confirmation link to the address.",
    )


@router.post(
    "/email-login",
    status_code=202,
    response_model=Accepted,
    summary="かんたん login: mail a one-time login link (acr=email)",
)
async def email_login(body: EmailLoginRequest, idp: IdpDep, _: Public) -> Accepted:
    """For citizen and business accounts with a verified address. The answer is the same,
    and as fast, whether or not such an account exists; only an existing one gets mail. The
    link is valid for 10 minutes and works once: exchange its `token` at `POST /auth/token`
    with `grant_type=urn:cityhall:params:oauth:grant-type:email-link` and `link_token`."""
    idp.email_links.request(body.email)
    return Accepted(
        status="link_sent_if_registered",
        message="登録済みのアドレスであれば、ログイン用のリンクを送信しました。"
        " / If the address belongs to an account, we sent it a login link.",
    )


_CONFIRM_PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>かんたんログイン / Log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>かんたんログイン / Log in</h1>
<p>ボタンを押すとログインします。このリンクは一度だけ使えます。<br>
Press the button to log in. The link works once.</p>
<form method="post" action="/auth/token">
<input type="hidden" name="grant_type" value="{grant}">
<input type="hidden" name="link_token" value="{token}">
<button type="submit">ログインする / Log in</button>
</form></body></html>
"""


@router.get(
    "/email-login",
    response_class=HTMLResponse,
    summary="The page a mailed login link opens (does not log in by itself)",
)
async def email_login_page(
    _: Public, token: Annotated[str, Query(min_length=1, max_length=2048)]
) -> HTMLResponse:
    """Opening the link only shows a button: mail scanners that fetch links must not use up
    the one-time token. The button posts it to the token endpoint."""
    page = _CONFIRM_PAGE.format(grant=EMAIL_LINK_GRANT, token=html.escape(token, quote=True))
    return HTMLResponse(
        page,
        headers={
            **NO_STORE,
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'none'; form-action 'self'; "
            "frame-ancestors 'none'",
        },
    )


@router.get(
    "/verify-email",
    response_class=HTMLResponse,
    summary="The page a mailed confirmation link opens (does not confirm by itself)",
)
async def verify_email_page(
    _: Public, token: Annotated[str, Query(min_length=1, max_length=2048)]
) -> HTMLResponse:
    """Only a button, like every mailed link: mail scanners that open links must not confirm
    an address. The button posts the token to `POST /auth/verify-email`."""
    return HTMLResponse(pages.verify_email_page(token), headers=pages.PAGE_HEADERS)


_VERIFY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": VerifyEmailRequest.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": VerifyEmailRequest.model_json_schema()},
        },
    }
}


@router.post(
    "/verify-email",
    response_model=AccountView,
    summary="Confirm an e-mail address with the mailed token",
    openapi_extra=_VERIFY_BODY,
    responses={200: {"content": {"text/html": {}}}, **PAGE_OR_PROBLEM},
)
async def verify_email(request: Request, idp: IdpDep, _: Public) -> Response:
    """JSON `{"token": ...}` answers the account; the confirmation page's form post answers
    a page to a browser (`Accept: text/html`), and the account or a problem to any other
    client."""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        token = (await _form(request)).get("token", "")
        page_wanted = wants_html(request)
        try:
            account = await idp.accounts.verify_email(token)
        except AppError as exc:
            if not page_wanted:
                raise
            page = pages.link_refused_page(exc.detail)
            return HTMLResponse(page, status_code=exc.status, headers=pages.PAGE_HEADERS)
        if page_wanted:
            page = pages.verified_page(account.display_name)
            return HTMLResponse(page, headers=pages.PAGE_HEADERS)
        view = AccountView.of(account)
        return Response(view.model_dump_json(), media_type="application/json")
    try:
        body = VerifyEmailRequest.model_validate_json(await request.body())
    except ValueError as exc:
        raise UnprocessableContent('send {"token": ...} as JSON', field="token") from exc
    view = AccountView.of(await idp.accounts.verify_email(body.token))
    return Response(view.model_dump_json(), media_type="application/json")


@router.post("/password", response_model=AccountView, summary="Set a password with a mailed link")
async def set_password(body: SetPasswordRequest, idp: IdpDep, _: Public) -> AccountView:
    return AccountView.of(await idp.accounts.set_password_with_link(body.token, body.password))


@router.get(
    "/me",
    response_model=Identity,
    response_model_exclude_unset=True,
    summary="The caller's identity",
)
async def me(principal: AnyPrincipal, idp: IdpDep) -> Identity:
    identity = Identity(
        sub=principal.sub,
        kind=principal.kind,
        acr=principal.acr,
        amr=list(principal.amr),
        roles=sorted(principal.roles),
        scopes=sorted(principal.scopes),
        department=principal.department,
    )
    if principal.kind == "service":
        return identity
    account = await idp.accounts.get(principal.sub)
    identity.account = AccountView.of(account) if account else None
    return identity


@router.post("/logout", status_code=204, summary="Revoke this access token (and its session)")
async def logout(
    principal: AnyPrincipal, idp: IdpDep, body: LogoutRequest | None = None
) -> Response:
    await idp.refresh.revoke_access(principal)
    if body is not None and body.refresh_token:
        await idp.refresh.revoke_refresh(body.refresh_token, owner=principal.sub, actor=principal)
    return Response(status_code=204)


@router.post("/revoke", summary="Revoke a token (RFC 7009)")
async def revoke(request: Request, idp: IdpDep, _: Public) -> Response:
    """`token` (form field): a refresh token (its whole session is revoked) or an access token.
    Answers 200 for unknown tokens too, as RFC 7009 asks."""
    form = await _form(request)
    token = form.get("token", "")
    if not token:
        raise InvalidRequest("token is required")
    if not await idp.refresh.revoke_refresh(token):
        verifier: TokenVerifier = request.app.state.verifier
        try:
            principal = await verifier.verify(token)
        except AppError:
            return Response(status_code=200, headers=NO_STORE)  # invalid: nothing to revoke
        await idp.refresh.revoke_access(principal)
    return Response(status_code=200, headers=NO_STORE)


# --- TOTP ------------------------------------------------------------------------------------

StaffAccount = Annotated[Principal, staff()]


@router.post("/totp/enroll", response_model=TotpEnrolment, summary="Start TOTP enrolment")
async def totp_enroll(principal: StaffAccount, idp: IdpDep) -> JSONResponse:
    enrolment = await idp.totp.enroll(principal)
    body = TotpEnrolment(
        otpauth_uri=enrolment.otpauth_uri,
        qr_code=enrolment.qr_svg_data_uri,
        secret=enrolment.secret,
    )
    return JSONResponse(body.model_dump(), headers=NO_STORE)


@router.post("/totp/confirm", response_model=AccountView, summary="Finish TOTP enrolment")
async def totp_confirm(body: TotpConfirm, principal: StaffAccount, idp: IdpDep) -> AccountView:
    """After this, log in again with password + code to get a token with the staff roles."""
    return AccountView.of(await idp.totp.confirm(principal, body.code))


# --- administration --------------------------------------------------------------------------


@router.post(
    "/admin/staff", status_code=201, response_model=StaffCreated, summary="Create a staff account"
)
async def create_staff(body: StaffCreate, admin: Admin, idp: IdpDep) -> StaffCreated:
    account, mailed = await idp.accounts.create_staff(
        email=body.email,
        display_name=body.display_name,
        department=body.department,
        roles=body.roles,
        initial_password=body.initial_password,
        by=admin,
    )
    return StaffCreated(**AccountView.of(account).model_dump(), set_password_mail_sent=mailed)


@router.put(
    "/admin/accounts/{account_id}/roles",
    response_model=AccountView,
    summary="Set a staff account's roles",
)
async def set_roles(account_id: str, body: RolesUpdate, admin: Admin, idp: IdpDep) -> AccountView:
    """The account's earlier tokens (with the old roles) are refused from now on, at the
    gateway and at every service; its next login or refresh carries the new roles."""
    return AccountView.of(await idp.accounts.set_roles(account_id, body.roles, admin))


@router.post("/admin/accounts/{account_id}/disable", response_model=AccountView)
async def disable_account(account_id: str, admin: Admin, idp: IdpDep) -> AccountView:
    """Refuses the account's tokens at the gateway at once and revokes its sessions."""
    return AccountView.of(await idp.accounts.set_status(account_id, "disabled", admin))


@router.post("/admin/accounts/{account_id}/enable", response_model=AccountView)
async def enable_account(account_id: str, admin: Admin, idp: IdpDep) -> AccountView:
    return AccountView.of(await idp.accounts.set_status(account_id, "active", admin))


# --- mock JPKI -------------------------------------------------------------------------------


@router.post("/jpki/challenge", response_model=Challenge, summary="A nonce for a card to sign")
async def jpki_challenge(idp: IdpDep, _: Public) -> JSONResponse:
    nonce = await idp.jpki.challenge()
    body = Challenge(nonce=nonce.nonce, expires_at=nonce.expires_at)
    return JSONResponse(body.model_dump(mode="json"), headers=NO_STORE)


@router.post("/jpki/token", summary="Log in with a (mock) My Number card: acr=jpki")
async def jpki_token(
    body: JpkiTokenRequest, request: Request, idp: IdpDep, principal: OptionalPrincipal
) -> JSONResponse:
    """The certificate must be issued by the city's mock CA, valid now and not revoked; the
    signature must verify over the exact nonce of an unused challenge. The card is linked to
    the caller's account when a citizen token is sent, else to the account it was linked to
    before, else to a new citizen account."""
    certificate = parse_certificate(body.certificate)
    try:
        signature = base64.urlsafe_b64decode(body.signature + "=" * (-len(body.signature) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JpkiBadSignature("the signature is not base64url") from exc
    tokens = await idp.jpki.login(
        certificate=certificate, nonce=body.nonce, signature=signature, link_to=principal
    )
    request.state.principal = tokens.principal  # the access record's actor
    return JSONResponse(tokens.body(), headers=NO_STORE)


@router.post(
    "/admin/jpki/revocations",
    status_code=201,
    response_model=RevocationView,
    summary="Add a card certificate to the revocation list",
)
async def add_revocation(body: RevocationCreate, admin: Admin, idp: IdpDep) -> RevocationView:
    record = await idp.jpki.revoke_card(body.serial, body.reason, admin.sub, actor=admin)
    return RevocationView.model_validate(record, from_attributes=True)


@router.get(
    "/admin/jpki/revocations", response_model=list[RevocationView], summary="The revocation list"
)
async def list_revocations(admin: Admin, idp: IdpDep) -> list[RevocationView]:
    return [
        RevocationView.model_validate(r, from_attributes=True) for r in await idp.jpki.revocations()
    ]
