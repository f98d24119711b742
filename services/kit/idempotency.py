"""`Idempotency-Key` support for create endpoints (DESIGN 4).

A route declares the `Idempotency` dependency next to its `SessionDep` and brackets its work::

    @router.post("/v1/things", response_model=ThingRead, status_code=201)
    async def create_thing(
        body: ThingCreate, principal: Citizen, session: SessionDep, idem: Idempotency
    ) -> Response:
        if (replay := await idem.begin(body)) is not None:
            return replay
        thing = Thing(...)
        session.add(thing)
        await session.flush()
        view = ThingRead.model_validate(thing, from_attributes=True)
        return await idem.complete(201, view, location=f"/v1/things/{thing.id}")

Rules, as DESIGN 4 states them:

- The key is 1–255 characters of `[A-Za-z0-9-]`; anything else is a 422 problem whose `errors`
  name the `Idempotency-Key` header. Without the header the route simply runs (`begin` returns
  None and `complete` only renders the response).
- Keys are scoped per client: the `sub` of the authenticated principal (`anonymous` on public
  routes, where a replay needs both the key and the identical body).
- The request fingerprint is SHA-256 over the method, the path, the sorted query string and the
  canonical JSON of the body (keys sorted, no whitespace): the model given to `begin`, or the raw
  request body when none is given.
- Same key, same fingerprint, first request completed → the stored body is replayed with status
  **200** (DESIGN's "200 replay"; the original may have been a 201) and the header
  `Idempotent-Replayed: true`. The body is byte-for-byte the original one, and the replay
  repeats the headers the route gave `complete()` (`Location`, and any other: `ETag`, `Link`
  ...), except those that describe one exchange rather than the resource (`PER_EXCHANGE`:
  the request id, `Date`, rate-limit state, `Retry-After`, cookies, the body's length and
  type), which every response gets anew.
- Same key, different fingerprint → 422 (`/problems/idempotency-key-reused`).
- Same key while the first request is still in flight → the second one waits (polls the row,
  up to `IdempotencyConfig.wait` seconds) and then replays; only if the first is still running
  after the wait → 409 (`/problems/idempotency-key-in-flight`, with `Retry-After`).
- Only successes are stored: when the route raises, the claim is released and the same key may
  be retried. Records are kept `ttl` (24 h); `PURGE_JOB` deletes expired ones.

Mechanics. On PostgreSQL the key is claimed (an `in_flight` row with a lease `locked_until`) in
its own short committed transaction, so concurrent requests see it; the work runs in the
request's session, and `complete()` stores the response in that same transaction and commits it,
so the data and the stored response become visible together. A claim whose lease ran out (its
process crashed) is taken over; `complete()` is fenced on the lease value, so a request whose
claim was taken over fails with 409 instead of creating a second resource.
On SQLite a write request's session holds the database's write lock from its start
(`BEGIN IMMEDIATE`), so a separate claim transaction would wait for ourselves; there the claim is
made inside the request's transaction instead. Writers are serialised by that lock, so a second
request with the same key only reads the row after the first committed, and replays it.

A route cannot forget half of the protocol: when a key was sent and the route returns without
calling `begin()`, or after `begin()` claimed the key without calling `complete()`, the
dependency raises, the request fails with a 500 and its transaction is rolled back.
`complete()` commits the request's unit of work: return its result and do nothing after it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from sqlalchemy import bindparam, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.responses import Response

from services.kit.clock import Clock
from services.kit.db import IMMEDIATE, Database
from services.kit.deps import SessionDep
from services.kit.errors import Conflict, UnprocessableContent
from services.kit.jobs import Job, JobContext
from services.kit.sqltypes import UTCDateTime
from services.kit.tables import IdempotencyRecord

log = logging.getLogger("cityhall.idempotency")

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
REPLAY_STATUS = 200
ANONYMOUS_SCOPE = "anonymous"
_KEY = re.compile(r"[A-Za-z0-9-]{1,255}")
_IN_FLIGHT = "in_flight"
_COMPLETED = "completed"

# Headers that describe one exchange, not the created resource: a replay gets its own (from
# the middleware, the gateway and the server), so they are never stored.
PER_EXCHANGE = frozenset(
    {
        "content-length",
        "content-type",
        "date",
        "server",
        "set-cookie",
        "retry-after",
        "x-request-id",
        REPLAYED_HEADER.lower(),
        "ratelimit",
        "ratelimit-policy",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    }
)

ResponseHeaders = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class IdempotencyConfig:
    """Put one on `app.state.idempotency_config` to change the defaults for an app."""

    ttl: timedelta = timedelta(hours=24)
    lease: timedelta = timedelta(seconds=60)  # longer than any create request takes
    wait: float = 5.0  # seconds a duplicate waits for the first request before a 409
    poll_interval: float = 0.02  # first poll delay; doubles up to max_poll_interval
    max_poll_interval: float = 0.25


DEFAULT_CONFIG = IdempotencyConfig()


class IdempotencyKeyReused(UnprocessableContent):
    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused with a different request"


class IdempotencyKeyInFlight(Conflict):
    slug = "idempotency-key-in-flight"
    title = "A request with this Idempotency-Key is still in progress"

    def __init__(self, detail: str, /, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(retry_after)


def invalid_key_error() -> UnprocessableContent:
    message = f"{KEY_HEADER} must be 1 to 255 characters of A-Z, a-z, 0-9 and '-'"
    return UnprocessableContent(
        message, errors=[{"field": KEY_HEADER, "in": "header", "message": message}]
    )


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: equal documents hash equally."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def request_fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _render(content: Any) -> bytes:
    if isinstance(content, BaseModel):
        return content.model_dump_json(by_alias=True).encode()
    return canonical_json(jsonable_encoder(content))


def _stored_headers(headers: Sequence[tuple[str, str]]) -> str | None:
    kept = [[name, value] for name, value in headers if name.lower() not in PER_EXCHANGE]
    return json.dumps(kept, ensure_ascii=False) if kept else None


def _loaded_headers(stored: str | None) -> ResponseHeaders:
    return [(str(name), str(value)) for name, value in json.loads(stored)] if stored else []


def _claim_statement(insert: Any) -> Any:
    """INSERT of a fresh claim, built once per dialect: per request only values are bound."""
    return (
        insert(IdempotencyRecord)
        .values(
            scope=bindparam("i_scope"),
            key=bindparam("i_key"),
            request_hash=bindparam("i_hash"),
            state=_IN_FLIGHT,
            response_status=None,
            response_body=None,
            response_headers=None,
            locked_until=bindparam("i_lease", type_=UTCDateTime()),
            created_at=bindparam("i_now", type_=UTCDateTime()),
            expires_at=bindparam("i_expires", type_=UTCDateTime()),
        )
        .on_conflict_do_nothing(index_elements=["scope", "key"])
    )


_CLAIM = {"postgresql": _claim_statement(pg_insert), "sqlite": _claim_statement(sqlite_insert)}
_COMPLETE = (
    update(IdempotencyRecord)
    .where(
        col(IdempotencyRecord.scope) == bindparam("i_scope"),
        col(IdempotencyRecord.key) == bindparam("i_key"),
        col(IdempotencyRecord.state) == _IN_FLIGHT,
        col(IdempotencyRecord.locked_until) == bindparam("i_lease", type_=UTCDateTime()),
    )
    .values(
        state=_COMPLETED,
        response_status=bindparam("i_status"),
        response_body=bindparam("i_body"),
        response_headers=bindparam("i_headers"),
        locked_until=bindparam("i_now", type_=UTCDateTime()),
    )
)


class _Claim(Enum):
    CLAIMED = "claimed"
    IN_FLIGHT = "in_flight"
    VANISHED = "vanished"  # released between our insert and our read: try again


class _State(Enum):
    NEW = "new"
    UNKEYED = "unkeyed"
    CLAIMED = "claimed"
    REPLAYED = "replayed"
    COMPLETED = "completed"


class IdempotencySlot:
    """One request's handle on its `Idempotency-Key`: `begin()`, then `complete()`."""

    def __init__(
        self,
        request: Request,
        session: AsyncSession,
        db: Database,
        clock: Clock,
        key: str | None,
        config: IdempotencyConfig = DEFAULT_CONFIG,
    ) -> None:
        self.request = request
        self.session = session
        self.db = db
        self.clock = clock
        self.key = key
        self.config = config
        self.scope = ANONYMOUS_SCOPE
        self.fingerprint: str | None = None
        self._state = _State.NEW
        self._lease_until: datetime | None = None
        self._claimed_in_request_session = False

    @property
    def replayed(self) -> bool:
        return self._state is _State.REPLAYED

    async def begin(self, body: BaseModel | Any = None) -> Response | None:
        """Claims the key; returns the stored response to replay, or None to do the work.

        `body` is the parsed request model (or any JSON-able value) that the fingerprint
        covers; without it, the raw request body is used.
        """
        if self._state is not _State.NEW:
            raise RuntimeError("IdempotencySlot.begin() may be called once per request")
        if self.key is None:
            self._state = _State.UNKEYED
            return None
        principal = getattr(self.request.state, "principal", None)
        self.scope = str(getattr(principal, "sub", None) or ANONYMOUS_SCOPE)
        self.fingerprint = await self._fingerprint(body)
        if self.db.is_sqlite:
            return await self._begin_in_request_session()
        return await self._begin_with_own_claim()

    async def complete(
        self,
        status_code: int,
        content: BaseModel | Any,
        *,
        location: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Response:
        """Stores the response (body, status and headers) with the request's data, commits
        both, and returns it. `location` is the created resource's path (`Location`)."""
        rendered = _render(content)
        sent = [("Location", location), *headers] if location is not None else list(headers)
        if self._state is _State.UNKEYED:
            return self._response(rendered, status_code, sent)
        if self._state is not _State.CLAIMED:
            raise RuntimeError(
                f"IdempotencySlot.complete() needs a claimed key (state {self._state.value});"
                " call begin() first and return its replay when it gives one"
            )
        connection = await self.session.connection()  # Core: an ORM insert with params is "bulk"
        result = await connection.execute(
            _COMPLETE,
            {
                "i_scope": self.scope,
                "i_key": self.key,
                "i_lease": self._lease_until,
                "i_status": status_code,
                "i_body": rendered.decode(),
                "i_headers": _stored_headers(sent),
                "i_now": self.clock.now(),
            },
        )
        if getattr(result, "rowcount", 0) != 1:
            raise IdempotencyKeyInFlight(
                "the claim on this Idempotency-Key expired and was taken over by a retry"
            )
        await self.session.commit()
        self._state = _State.COMPLETED
        return self._response(rendered, status_code, sent)

    # --- internals ---------------------------------------------------------------------

    def _response(
        self,
        body: bytes,
        status_code: int,
        headers: Sequence[tuple[str, str]],
        *,
        replay: bool = False,
    ) -> Response:
        response = Response(body, status_code=status_code, media_type="application/json")
        for name, value in headers:
            response.headers.append(name, value)
        if replay:
            response.headers[REPLAYED_HEADER] = "true"
        return response

    async def _fingerprint(self, body: Any) -> str:
        if body is None:
            raw = await self.request.body()
            try:
                payload = canonical_json(json.loads(raw)) if raw else b""
            except ValueError:
                payload = raw
        elif isinstance(body, BaseModel):
            payload = canonical_json(body.model_dump(mode="json", by_alias=True))
        else:
            payload = canonical_json(jsonable_encoder(body))
        query = urlencode(sorted(self.request.query_params.multi_items()))
        return request_fingerprint(self.request.method, self.request.url.path, query, payload)

    def _this_key(self, statement: Any) -> Any:
        return statement.where(
            col(IdempotencyRecord.scope) == self.scope,
            col(IdempotencyRecord.key) == self.key,
        )

    def _this_claim(self, statement: Any) -> Any:
        """Fenced on our lease: a claim taken over after its lease expired no longer matches."""
        return self._this_key(statement).where(
            col(IdempotencyRecord.state) == _IN_FLIGHT,
            col(IdempotencyRecord.locked_until) == self._lease_until,
        )

    async def _begin_in_request_session(self) -> Response | None:
        # SQLite: the request's transaction already holds the write lock (BEGIN IMMEDIATE).
        if not self.session.in_transaction():
            await self.session.connection(execution_options=IMMEDIATE)
        while True:
            outcome = await self._try_claim(self.session, self.clock.now())
            if outcome is _Claim.VANISHED:
                continue
            if outcome is _Claim.CLAIMED:
                self._claimed_in_request_session = True
                self._state = _State.CLAIMED
                return None
            if outcome is _Claim.IN_FLIGHT:
                raise IdempotencyKeyInFlight(
                    "a request with this Idempotency-Key is still in progress; retry later"
                )
            self._state = _State.REPLAYED
            return outcome

    async def _begin_with_own_claim(self) -> Response | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.wait
        delay = self.config.poll_interval
        while True:
            async with self.db.session() as claim_session:
                outcome = await self._try_claim(claim_session, self.clock.now())
            if outcome is _Claim.VANISHED:
                continue
            if outcome is _Claim.CLAIMED:
                self._state = _State.CLAIMED
                return None
            if isinstance(outcome, Response):
                self._state = _State.REPLAYED
                return outcome
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise IdempotencyKeyInFlight(
                    "a request with this Idempotency-Key is still in progress; retry later",
                    retry_after=max(1, round(self.config.wait)),
                )
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, self.config.max_poll_interval)

    async def _try_claim(self, session: AsyncSession, now: datetime) -> _Claim | Response:
        lease_until = now + self.config.lease
        fresh = {
            "request_hash": self.fingerprint,
            "state": _IN_FLIGHT,
            "response_status": None,
            "response_body": None,
            "response_headers": None,
            "locked_until": lease_until,
            "created_at": now,
            "expires_at": now + self.config.ttl,
        }
        connection = await session.connection()
        inserted = await connection.execute(
            _CLAIM[connection.dialect.name],
            {
                "i_scope": self.scope,
                "i_key": self.key,
                "i_hash": self.fingerprint,
                "i_lease": lease_until,
                "i_now": now,
                "i_expires": fresh["expires_at"],
            },
        )
        if getattr(inserted, "rowcount", 0) == 1:
            self._lease_until = lease_until
            return _Claim.CLAIMED
        row = (
            await session.exec(
                self._this_key(select(IdempotencyRecord)).execution_options(populate_existing=True)
            )
        ).one_or_none()
        if row is None:
            return _Claim.VANISHED
        expired = row.expires_at <= now
        abandoned = row.state == _IN_FLIGHT and row.locked_until <= now
        if not expired and row.request_hash != self.fingerprint:
            raise IdempotencyKeyReused(
                f"this {KEY_HEADER} was already used with a different request"
                " (method, path or body); use a new key for a new request"
            )
        if expired or abandoned:
            # Take the row over: a key past its 24 h, or a claim whose holder died.
            taken = await session.exec(
                self._this_key(update(IdempotencyRecord))
                .where(
                    col(IdempotencyRecord.state) == row.state,
                    col(IdempotencyRecord.locked_until) == row.locked_until,
                    col(IdempotencyRecord.expires_at) == row.expires_at,
                )
                .values(**fresh)
            )
            if getattr(taken, "rowcount", 0) == 1:
                self._lease_until = lease_until
                return _Claim.CLAIMED
            return _Claim.VANISHED
        if row.state == _COMPLETED:
            return self._response(
                (row.response_body or "").encode(),
                REPLAY_STATUS,
                _loaded_headers(row.response_headers),
                replay=True,
            )
        return _Claim.IN_FLIGHT

    async def _release(self) -> None:
        """Deletes our unfinished claim so that the client may retry with the same key."""
        async with self.db.session() as session:
            await session.exec(self._this_claim(delete(IdempotencyRecord)))

    async def _finish(self, error: BaseException | None) -> None:
        """The dependency's exit: release an unfinished claim; refuse a half-done protocol."""
        if self._state is _State.CLAIMED:
            if not self._claimed_in_request_session:  # on SQLite the rollback releases it
                try:
                    await self._release()
                except Exception:
                    log.exception("could not release Idempotency-Key claim %s", self.key)
            if error is None:
                raise RuntimeError(
                    "the route claimed an Idempotency-Key with begin() but returned without"
                    " complete(); its changes were rolled back"
                )
        elif self._state is _State.NEW and self.key is not None and error is None:
            raise RuntimeError(
                "the route declares Idempotency and received an Idempotency-Key but never"
                " called begin(); its changes were rolled back"
            )


def _config(request: Request) -> IdempotencyConfig:
    config = getattr(request.app.state, "idempotency_config", None)
    return config if isinstance(config, IdempotencyConfig) else DEFAULT_CONFIG


async def idempotency_slot(
    request: Request,
    session: SessionDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=KEY_HEADER,
            description=(
                "Makes a create safe to retry: 1–255 characters of A-Z, a-z, 0-9 and '-'."
                " The same key with the same body replays the first response (200,"
                " `Idempotent-Replayed: true`) for 24 h; a different body is a 422."
            ),
        ),
    ] = None,
) -> AsyncIterator[IdempotencySlot]:
    if idempotency_key is not None and not _KEY.fullmatch(idempotency_key):
        raise invalid_key_error()
    slot = IdempotencySlot(
        request,
        session,
        request.app.state.db,
        request.app.state.clock,
        idempotency_key,
        _config(request),
    )
    try:
        yield slot
    except BaseException as exc:
        await slot._finish(exc)
        raise
    await slot._finish(None)


Idempotency = Annotated[IdempotencySlot, Depends(idempotency_slot, scope="function")]


async def purge_expired(db: Database, now: datetime) -> int:
    """Deletes keys older than their ttl; returns how many."""
    async with db.session() as session:
        result = await session.exec(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.expires_at) <= now)
        )
        return int(getattr(result, "rowcount", 0) or 0)


async def _purge_job(context: JobContext) -> int:
    return await purge_expired(context.db, context.clock.now())


PURGE_JOB = Job(name="kit.idempotency.purge", every=timedelta(hours=1), run=_purge_job)
