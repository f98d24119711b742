"""A development SMTP sink (aiosmtpd) with a mailbox API and page, like a tiny Mailpit.

Every message the SMTP server accepts is kept in memory (the newest `capacity`), parsed:
envelope, headers (RFC 2047 words decoded), text and HTML parts, attachments, raw bytes.
`MailSink.fail(address, code, message)` makes the server refuse chosen recipients with a
4xx or 5xx reply, so clients can exercise their retry and bounce paths against a real server.

In-process use (tests):

    async with MailSink("127.0.0.1", 0) as sink:      # SMTP on the running event loop
        ... send to sink.port ...
        message = await sink.wait_for(to="taro@example.jp")

or `sink.start()` / `sink.stop()` from synchronous code (the server then runs on its own
thread and event loop). `create_mailbox_app(sink)` is the HTTP side:
`GET /api/messages`, `GET /api/messages/{id}`, `GET /api/messages/{id}/raw`,
`DELETE /api/messages/{id}`, `DELETE /api/messages`, and the page at `/`. The list takes
`wait` (seconds, a long poll): it answers as soon as `count` messages match, so a client waits
for a mail without polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import html
import itertools
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses
from types import TracebackType
from typing import Annotated, Any, Self

from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from deploy.arrivals import Arrivals
from services.kit.auth import Public
from services.kit.errors import NotFound, UnprocessableContent
from services.kit.problems import install_problem_handlers

DEFAULT_CAPACITY = 10_000
DATA_SIZE_LIMIT = 32 * 1024 * 1024
MAX_WAIT_SECONDS = 60


# --- stored messages -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    received_at: datetime
    peer: str | None
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    subject: str
    from_: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    message_id: str | None
    headers: tuple[tuple[str, str], ...]
    text: str | None
    html: str | None
    attachments: tuple[Attachment, ...] = ()

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def addressed_to(self, address: str) -> bool:
        wanted = address.strip().lower()
        return any(wanted == a.lower() for a in (*self.rcpt_tos, *self.to, *self.cc))

    def matches(self, *, to: str | None, subject: str | None, after: int | None) -> bool:
        """Addressed to `to`, with `subject` in its subject, received after message `after`."""
        return (
            (not to or self.addressed_to(to))
            and (not subject or subject in self.subject)
            and (after is None or self.id > after)
        )


def _header_text(message: EmailMessage, name: str) -> str:
    value = message.get(name)
    return "" if value is None else str(value)


def _addresses(message: EmailMessage, name: str) -> tuple[str, ...]:
    values = [str(v) for v in message.get_all(name, [])]
    return tuple(addr for _, addr in getaddresses(values) if addr)


def _part_text(part: EmailMessage | None) -> str | None:
    if part is None:
        return None
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # unknown charset or broken transfer encoding
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        return raw.decode("utf-8", errors="replace")
    return content if isinstance(content, str) else None


def _attachments(message: EmailMessage) -> tuple[Attachment, ...]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        found.append(Attachment(part.get_filename(), part.get_content_type(), size))
    return tuple(found)


def parse_message(
    message_id: int,
    raw: bytes,
    *,
    mail_from: str,
    rcpt_tos: tuple[str, ...],
    peer: str | None = None,
    received_at: datetime | None = None,
) -> StoredMessage:
    """Parse raw RFC 5322 bytes (headers decoded from RFC 2047, bodies from their charset)."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    headers = []
    for name, value in parsed.items():
        try:
            headers.append((name, str(value)))
        except (ValueError, LookupError):
            headers.append((name, str(parsed.get_all(name, [""])[0])))
    if parsed.is_multipart() or parsed.get_content_maintype() == "text":
        text = _part_text(parsed.get_body(preferencelist=("plain",)))  # type: ignore[arg-type]
        body_html = _part_text(parsed.get_body(preferencelist=("html",)))  # type: ignore[arg-type]
    else:
        text = body_html = None
    return StoredMessage(
        id=message_id,
        received_at=received_at or datetime.now(UTC),
        peer=peer,
        mail_from=mail_from,
        rcpt_tos=rcpt_tos,
        raw=raw,
        subject=_header_text(parsed, "Subject"),
        from_=_header_text(parsed, "From"),
        to=_addresses(parsed, "To"),
        cc=_addresses(parsed, "Cc"),
        message_id=parsed.get("Message-ID"),
        headers=tuple(headers),
        text=text,
        html=body_html,
        attachments=_attachments(parsed),
    )


@dataclass(slots=True)
class _Failure:
    code: int
    message: str
    remaining: int | None  # None: refuse every time


@dataclass(slots=True)
class MailStore:
    """The newest `capacity` messages, safe to use from the SMTP thread and the web app."""

    capacity: int = DEFAULT_CAPACITY
    _messages: OrderedDict[int, StoredMessage] = field(default_factory=OrderedDict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _failures: dict[str, _Failure] = field(default_factory=dict)
    _refused: list[tuple[str, int]] = field(default_factory=list)
    arrivals: Arrivals = field(default_factory=Arrivals)

    def add(
        self, raw: bytes, *, mail_from: str, rcpt_tos: tuple[str, ...], peer: str | None
    ) -> StoredMessage:
        with self._lock:
            message_id = next(self._ids)
        message = parse_message(message_id, raw, mail_from=mail_from, rcpt_tos=rcpt_tos, peer=peer)
        with self._lock:
            self._messages[message_id] = message
            while len(self._messages) > self.capacity:
                self._messages.popitem(last=False)
        self.arrivals.notify()
        return message

    def select(
        self,
        *,
        to: str | None = None,
        subject: str | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[StoredMessage]:
        """Newest first, optionally only those addressed (envelope, To or Cc) to `to`, with
        `subject` in their subject, or received after message `after`."""
        with self._lock:
            messages = list(reversed(self._messages.values()))
        if to or subject or after is not None:
            messages = [m for m in messages if m.matches(to=to, subject=subject, after=after)]
        return messages[:limit] if limit is not None else messages

    async def wait_for(
        self,
        *,
        to: str | None = None,
        subject: str | None = None,
        after: int | None = None,
        count: int = 1,
        within: float = 5.0,
    ) -> list[StoredMessage]:
        """The matching messages (newest first) once there are `count` of them, woken by each
        arrival; whatever matches when `within` seconds have passed."""

        def enough() -> list[StoredMessage] | None:
            found = self.select(to=to, subject=subject, after=after)
            return found if len(found) >= count else None

        found = await self.arrivals.wait_until(enough, within)
        return found if found is not None else self.select(to=to, subject=subject, after=after)

    def get(self, message_id: int) -> StoredMessage | None:
        with self._lock:
            return self._messages.get(message_id)

    def delete(self, message_id: int) -> bool:
        with self._lock:
            return self._messages.pop(message_id, None) is not None

    def clear(self) -> int:
        with self._lock:
            count = len(self._messages)
            self._messages.clear()
            return count

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)

    # failure injection ----------------------------------------------------------------

    def fail(self, address: str, code: int, message: str, *, times: int | None = None) -> None:
        if not 400 <= code <= 599:
            raise ValueError("an SMTP refusal is a 4xx (transient) or 5xx (permanent) code")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for always)")
        with self._lock:
            self._failures[address.strip().lower()] = _Failure(code, message, times)

    def unfail(self, address: str | None = None) -> int:
        """Accept `address` again (or every address); returns how many rules were dropped."""
        with self._lock:
            if address is None:
                count = len(self._failures)
                self._failures.clear()
                return count
            return 0 if self._failures.pop(address.strip().lower(), None) is None else 1

    def check_recipient(self, address: str) -> str | None:
        """The SMTP reply refusing `address`, or None to accept it."""
        key = address.strip().lower()
        with self._lock:
            failure = self._failures.get(key)
            if failure is None:
                return None
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    del self._failures[key]
            self._refused.append((address, failure.code))
        return f"{failure.code} {failure.message}"

    @property
    def refused(self) -> list[tuple[str, int]]:
        """Every (recipient, code) the server refused, oldest first."""
        with self._lock:
            return list(self._refused)


class SinkHandler:
    """The aiosmtpd handler: refuses configured recipients, stores every accepted message."""

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self.store.check_recipient(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        peer = session.peer
        peer_text = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else (peer or None)
        message = self.store.add(
            raw,
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            peer=peer_text,
        )
        return f"250 Message accepted for delivery (id {message.id})"


# --- the SMTP server -----------------------------------------------------------------------


class MailSink:
    """An SMTP server that keeps what it receives. `port=0` picks a free port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1025,
        *,
        capacity: int = DEFAULT_CAPACITY,
        store: MailStore | None = None,
        hostname: str = "mailsink.cityhall.test",
    ) -> None:
        self.host = host
        self.port = port
        self.hostname = hostname
        self.store = store or MailStore(capacity=capacity)
        self.handler = SinkHandler(self.store)
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    def _protocol(self) -> SMTP:
        return SMTP(
            self.handler,
            hostname=self.hostname,
            enable_SMTPUTF8=True,
            decode_data=False,
            data_size_limit=DATA_SIZE_LIMIT,
            ident="cityhall mailsink",
        )

    # on the caller's event loop ---------------------------------------------------------

    async def serve(self, sock: socket.socket | None = None) -> None:
        """Start listening on the running event loop (returns once bound), on `sock` when
        given (already bound)."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        if sock is not None:
            self._server = await loop.create_server(self._protocol, sock=sock)
        else:
            self._server = await loop.create_server(self._protocol, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            # Connections left open by a client would keep wait_closed() waiting.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), timeout=2)

    async def __aenter__(self) -> Self:
        await self.serve()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # on a thread of its own (synchronous callers) -------------------------------------

    def start(self, timeout: float = 5.0) -> None:
        """Run the server on its own thread and event loop; returns once it listens."""
        if self._thread is not None:
            return
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._thread_loop = loop
            try:
                loop.run_until_complete(self.serve())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.close())
                loop.close()

        self._thread = threading.Thread(target=run, name="mailsink-smtp", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("the mail sink did not start in time")
        if failure:
            self._thread = None
            raise failure[0]

    def stop(self, timeout: float = 5.0) -> None:
        thread, loop = self._thread, self._thread_loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None
        self._thread_loop = None

    # accessors --------------------------------------------------------------------------

    @property
    def messages(self) -> list[StoredMessage]:
        """Every stored message, oldest first."""
        return list(reversed(self.store.select()))

    def for_recipient(self, address: str) -> list[StoredMessage]:
        return list(reversed(self.store.select(to=address)))

    def clear(self) -> int:
        return self.store.clear()

    def fail(self, address: str, code: int, message: str, *, times: int | None = None) -> None:
        """Refuse `address` at RCPT with `code message` (every time, or the next `times`)."""
        self.store.fail(address, code, message, times=times)

    def unfail(self, address: str | None = None) -> int:
        return self.store.unfail(address)

    async def wait_for(
        self,
        predicate: Callable[[StoredMessage], bool] | None = None,
        *,
        to: str | None = None,
        count: int = 1,
        within: float = 5.0,
    ) -> list[StoredMessage]:
        """Wait until `count` stored messages match (addressed `to`, and `predicate`), oldest
        first; woken by each arrival, not by polling."""

        def enough() -> list[StoredMessage] | None:
            found = [
                m for m in reversed(self.store.select(to=to)) if predicate is None or predicate(m)
            ]
            return found if len(found) >= count else None

        found = await self.store.arrivals.wait_until(enough, within)
        if found is None:
            arrived = len(self.store.select(to=to))
            raise TimeoutError(f"fewer than {count} expected messages arrived ({arrived} to {to})")
        return found


# --- the mailbox API and page --------------------------------------------------------------


class MessageSummary(BaseModel):
    id: int
    received_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    from_: str
    to: list[str]
    size: int
    has_html: bool
    attachments: int


class AttachmentRead(BaseModel):
    filename: str | None
    content_type: str
    size: int


class MessageDetail(MessageSummary):
    peer: str | None
    cc: list[str]
    message_id: str | None
    headers: list[tuple[str, str]]
    text: str | None
    html: str | None
    attachment_list: list[AttachmentRead]


class MessageList(BaseModel):
    total: int
    count: int
    messages: list[MessageSummary]


class Deleted(BaseModel):
    deleted: int


class FailureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=3, max_length=320)
    code: int = Field(ge=400, le=599)
    message: str = Field("Requested action not taken", min_length=1, max_length=200)
    times: int | None = Field(None, ge=1, le=1_000_000)


class SinkHealth(BaseModel):
    status: str
    service: str
    messages: int
    smtp_port: int


def _summary(m: StoredMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "received_at": m.received_at,
        "mail_from": m.mail_from,
        "rcpt_tos": list(m.rcpt_tos),
        "subject": m.subject,
        "from_": m.from_,
        "to": list(m.to),
        "size": len(m.raw),
        "has_html": m.html is not None,
        "attachments": len(m.attachments),
    }


def _detail(m: StoredMessage) -> MessageDetail:
    return MessageDetail(
        **_summary(m),
        peer=m.peer,
        cc=list(m.cc),
        message_id=m.message_id,
        headers=list(m.headers),
        text=m.text,
        html=m.html,
        attachment_list=[
            AttachmentRead(filename=a.filename, content_type=a.content_type, size=a.size)
            for a in m.attachments
        ],
    )


_PAGE_STYLE = """
body{font-family:system-ui,"Hiragino Sans","Noto Sans JP",sans-serif;margin:0;color:#222}
header{background:#1d4e89;color:#fff;padding:.6rem 1rem}
header a{color:#fff}
main{padding:1rem}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
tr:hover{background:#f3f6fa}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.75rem;border:1px solid #ddd}
iframe{width:100%;height:28rem;border:1px solid #ddd}
.muted{color:#666;font-size:.9em}
"""


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='ja'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_PAGE_STYLE}</style></head>"
        "<body><header><a href='/'><strong>cityhall mailbox</strong></a> "
        "<span class='muted' style='color:#cfe'>開発用メールボックス</span></header>"
        f"<main>{body}</main></body></html>"
    )


def _list_page(messages: list[StoredMessage], to: str | None) -> HTMLResponse:
    rows = "".join(
        "<tr>"
        f"<td>{m.id}</td>"
        f"<td class='muted'>{html.escape(m.received_at.isoformat(timespec='seconds'))}</td>"
        f"<td>{html.escape(m.from_ or m.mail_from)}</td>"
        f"<td>{html.escape(', '.join(m.rcpt_tos))}</td>"
        f"<td><a href='/?id={m.id}'>{html.escape(m.subject or '(件名なし)')}</a></td>"
        "</tr>"
        for m in messages
    )
    heading = f"{len(messages)} 件のメール"
    if to:
        heading += f" (宛先: {html.escape(to)})"
    body = (
        f"<h1>{heading}</h1>"
        "<form method='get' action='/'><input name='to' placeholder='宛先で絞り込み'"
        f" value='{html.escape(to or '', quote=True)}'> <button>絞り込み</button></form>"
        "<table><thead><tr><th>#</th><th>受信日時</th><th>差出人</th><th>宛先</th>"
        f"<th>件名</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return _page("cityhall mailbox", body)


def _message_page(m: StoredMessage) -> HTMLResponse:
    header_rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in m.headers
    )
    parts = []
    if m.text is not None:
        parts.append(f"<h2>テキスト</h2><pre>{html.escape(m.text)}</pre>")
    if m.html is not None:
        parts.append(
            "<h2>HTML</h2><iframe sandbox referrerpolicy='no-referrer' "
            f"srcdoc='{html.escape(m.html, quote=True)}'></iframe>"
        )
    if m.attachments:
        items = "".join(
            f"<li>{html.escape(a.filename or '(no name)')} — {html.escape(a.content_type)}, "
            f"{a.size} bytes</li>"
            for a in m.attachments
        )
        parts.append(f"<h2>添付ファイル</h2><ul>{items}</ul>")
    body = (
        f"<p><a href='/'>← 一覧</a> · <a href='/api/messages/{m.id}/raw'>raw</a> · "
        f"<a href='/api/messages/{m.id}'>JSON</a></p>"
        f"<h1>{html.escape(m.subject or '(件名なし)')}</h1>"
        f"<p class='muted'>envelope: {html.escape(m.mail_from)} → "
        f"{html.escape(', '.join(m.rcpt_tos))}</p>"
        f"<details><summary>ヘッダー</summary><table>{header_rows}</table></details>"
        + "".join(parts)
    )
    return _page(m.subject or "message", body)


def create_mailbox_app(sink: MailSink) -> FastAPI:
    """The mailbox HTTP API and page over `sink`'s store (the SMTP side runs elsewhere)."""
    store = sink.store
    app = FastAPI(
        title="cityhall mailbox (dev SMTP sink)",
        description="Every message the development SMTP sink received.",
        version="0.1.0",
    )
    install_problem_handlers(app)

    def found(message_id: int) -> StoredMessage:
        message = store.get(message_id)
        if message is None:
            raise NotFound(f"no message {message_id}")
        return message

    @app.get("/healthz", response_model=SinkHealth, tags=["operations"])
    async def healthz(_: Public) -> SinkHealth:
        return SinkHealth(status="ok", service="mailsink", messages=len(store), smtp_port=sink.port)

    @app.get("/api/messages", response_model=MessageList)
    async def list_messages(
        _: Public,
        to: Annotated[str | None, Query(max_length=320)] = None,
        subject: Annotated[
            str | None, Query(max_length=998, description="a part of the subject")
        ] = None,
        after: Annotated[
            int | None, Query(ge=0, description="only messages with a greater id")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=DEFAULT_CAPACITY)] = 100,
        wait: Annotated[
            float,
            Query(ge=0, le=MAX_WAIT_SECONDS, description="long poll: seconds to wait for `count`"),
        ] = 0,
        count: Annotated[int, Query(ge=1, le=DEFAULT_CAPACITY)] = 1,
    ) -> MessageList:
        """Newest first. With `wait`, the answer comes as soon as `count` messages match (or
        when `wait` seconds have passed, with what matches then)."""
        if wait > 0:
            matching = await store.wait_for(
                to=to, subject=subject, after=after, count=count, within=wait
            )
        else:
            matching = store.select(to=to, subject=subject, after=after)
        shown = matching[:limit]
        return MessageList(
            total=len(matching),
            count=len(shown),
            messages=[MessageSummary(**_summary(m)) for m in shown],
        )

    @app.get("/api/messages/{message_id}", response_model=MessageDetail)
    async def read_message(message_id: int, _: Public) -> MessageDetail:
        return _detail(found(message_id))

    @app.get("/api/messages/{message_id}/raw", response_class=Response)
    async def read_raw(message_id: int, _: Public) -> Response:
        return Response(found(message_id).raw, media_type="message/rfc822")

    @app.delete("/api/messages/{message_id}", response_model=Deleted)
    async def delete_message(message_id: int, _: Public) -> Deleted:
        if not store.delete(message_id):
            raise NotFound(f"no message {message_id}")
        return Deleted(deleted=1)

    @app.delete("/api/messages", response_model=Deleted)
    async def delete_all(_: Public) -> Deleted:
        return Deleted(deleted=store.clear())

    @app.post("/api/failures", response_model=FailureCreate, status_code=201)
    async def add_failure(failure: FailureCreate, _: Public) -> FailureCreate:
        """Refuse `address` at RCPT with `code message` (every time, or the next `times`)."""
        if "\r" in failure.message or "\n" in failure.message:
            raise UnprocessableContent("the reply text is one line", field="message")
        store.fail(
            validate_address(failure.address), failure.code, failure.message, times=failure.times
        )
        return failure

    @app.delete("/api/failures", response_model=Deleted)
    async def clear_failures(_: Public) -> Deleted:
        return Deleted(deleted=store.unfail())

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page(
        _: Public,
        to: Annotated[str | None, Query(max_length=320)] = None,
        id: Annotated[int | None, Query()] = None,
    ) -> HTMLResponse:
        if id is not None:
            return _message_page(found(id))
        return _list_page(store.select(to=to, limit=500), to)

    return app


def validate_address(address: str) -> str:
    """`local@domain` or raise (used for `fail` from the API)."""
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError) as exc:
        raise UnprocessableContent(f"not an e-mail address: {address}", field="address") from exc
    return address
