"""Feeds for signage, TV data broadcast and front-ends: every sent alert as CAP 1.2 XML, an
Atom feed of the alerts in effect, and a server-sent-events stream of newly sent alerts.
All open to anyone; drafts never appear."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from services.alert_mail.alert_reads import to_public
from services.alert_mail.feeds import store
from services.alert_mail.feeds.atom import ATOM_MEDIA_TYPE, build_atom
from services.alert_mail.feeds.broadcaster import Broadcaster
from services.alert_mail.feeds.cap import CAP_MEDIA_TYPE
from services.alert_mail.routes.alert_deps import AlertIdPath, SettingsDep
from services.alert_mail.schemas.alerts import ALERT_ID_PATTERN, CODE_PATTERN
from services.kit.auth import Public
from services.kit.db import Database
from services.kit.deps import ClockDep, SessionDep
from services.kit.errors import ServiceUnavailable

router = APIRouter(prefix="/v1", tags=["feeds"])

CategoryFilter = Annotated[str | None, Query(pattern=CODE_PATTERN, max_length=64)]
DistrictFilter = Annotated[str | None, Query(pattern=CODE_PATTERN, max_length=64)]
ALERT_ID = re.compile(ALERT_ID_PATTERN)
REPLAY_LIMIT = 100
RECONNECT_MILLISECONDS = 3000


class FeedLanguage(StrEnum):
    JA = "ja"
    JA_PLAIN = "ja-plain"
    EN = "en"
    ZH = "zh"
    KO = "ko"


@router.get(
    "/feeds/cap/{alert_id}.xml",
    response_class=Response,
    responses={200: {"content": {CAP_MEDIA_TYPE: {}}, "description": "a CAP 1.2 alert"}},
)
async def cap_alert(
    alert_id: AlertIdPath, _: Public, session: SessionDep, settings: SettingsDep
) -> Response:
    """The sent alert as an OASIS CAP 1.2 document, one `<info>` per language."""
    document = await store.cap_document(session, settings, alert_id)
    return Response(
        document,
        media_type=CAP_MEDIA_TYPE,
        headers={"Cache-Control": "public, max-age=60"},
    )


@router.get(
    "/feeds/alerts.atom",
    response_class=Response,
    responses={200: {"content": {ATOM_MEDIA_TYPE: {}}, "description": "an Atom 1.0 feed"}},
)
async def alerts_atom(
    _: Public,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    lang: FeedLanguage = FeedLanguage.JA,
    category: CategoryFilter = None,
    district: DistrictFilter = None,
) -> Response:
    """Alerts in effect (sent, not expired, not cancelled, not replaced by an Update), newest
    first; each entry links to its CAP document. Text in `lang`, falling back to Japanese."""
    now = clock.now()
    alerts = await store.current_alerts(session, now, category=category, district=district)
    updated = max((a.sent_at for a in alerts if a.sent_at is not None), default=now)
    document = build_atom(
        alerts,
        info=store.feed_info(settings),
        categories=await store.categories_by_code(session),
        language=lang.value,
        updated=updated,
    )
    return Response(
        document,
        media_type=ATOM_MEDIA_TYPE,
        headers={"Cache-Control": "public, max-age=30"},
    )


async def get_broadcaster(request: Request) -> Broadcaster:
    broadcaster: Broadcaster | None = getattr(request.app.state, "broadcaster", None)
    if broadcaster is None:
        raise ServiceUnavailable("the alert stream is not running")
    return broadcaster


BroadcasterDep = Annotated[Broadcaster, Depends(get_broadcaster)]


@router.get("/stream", response_class=EventSourceResponse)
async def stream_alerts(
    request: Request,
    _: Public,
    settings: SettingsDep,
    broadcaster: BroadcasterDep,
    category: CategoryFilter = None,
    district: DistrictFilter = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=64,
            description="the id of the last event seen: what was sent since is replayed",
        ),
    ] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: `event: alert`, `id:` the alert id, `data:` the public alert (as
    `GET /v1/alerts/public` lists it) for each alert sent from now on; a `: ping` comment every
    15 s. Reconnecting with `Last-Event-ID` first replays what was sent since that alert
    (up to 100). `category` and `district` narrow the stream (a city-wide alert matches every
    district). A client that falls far behind is disconnected and should reconnect."""
    listener = broadcaster.subscribe(category=category, district=district)
    try:
        yield ServerSentEvent(comment="connected", retry=RECONNECT_MILLISECONDS)
        replayed: set[str] = set()
        if last_event_id is not None and ALERT_ID.fullmatch(last_event_id):
            db: Database = request.app.state.db
            async with db.session(write=False) as session:
                missed = await store.sent_after_event(
                    session,
                    last_event_id,
                    category=category,
                    district=district,
                    limit=REPLAY_LIMIT,
                )
            for alert in missed:
                replayed.add(alert.id)
                missed_summary = to_public(settings, alert).model_dump(mode="json")
                yield ServerSentEvent(event="alert", id=alert.id, data=missed_summary)
        while (summary := await listener.queue.get()) is not None:
            if summary["id"] not in replayed:
                yield ServerSentEvent(event="alert", id=summary["id"], data=summary)
    finally:
        broadcaster.unsubscribe(listener)
