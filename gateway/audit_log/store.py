"""`AuditLog`: the one writer of the chained audit log, and its readers.

Writes are serialised twice: an asyncio lock within this process, and the chain-head row
across processes (`SELECT ... FOR UPDATE` on PostgreSQL; on SQLite every write transaction
starts with `BEGIN IMMEDIATE`, which already admits one writer at a time). Each append reads
the head, links the new events to it, inserts them and moves the head in one transaction, so
`seq` stays contiguous and two gateway replicas cannot fork the chain. The transaction runs
on the database driver itself (`writer`): this is the gateway's per-request cost.

Access records never wait for the database: `record_access` puts them on a bounded in-memory
queue and a background task writes them in batches (every `flush_interval_seconds`, or as
soon as `batch_size` wait), each batch one transaction whose records are linked and inserted
`CHUNK_SIZE` at a time, so the event loop serves requests in between. A crash loses at most
what is in that queue. Domain events are appended before the ingest call answers, so the
services' outboxes keep them until they are committed here.

Checkpoints are signed inside the append transaction once `checkpoint_every_events` events
have gathered, and by a background task every `checkpoint_every_seconds` (also when nothing
was logged: a heartbeat shows the log was alive and not cut short).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func
from sqlmodel import col, select

from gateway.audit_chain.canonical import (
    CanonicalizationError,
    JsonValue,
    canonical_json,
    rfc3339_utc,
)
from gateway.audit_chain.chain import ChainLink, link_hashes
from gateway.audit_chain.checkpoint import (
    Checkpoint,
    CheckpointPolicy,
    parse_rfc3339,
    sign_checkpoint,
)
from gateway.audit_chain.export import header_line, public_key_to_jwk, record_line
from gateway.audit_chain.verify import AuditRecord, VerifyReport, verify
from gateway.audit_log.events import ChainEntry
from gateway.audit_log.settings import AuditSettings
from gateway.audit_log.tables import AuditChainHead, AuditCheckpointRecord, AuditEventRecord
from gateway.audit_log.writer import ChainWriter, Head, writer_for
from gateway.keys import KeyStore
from services.kit.db import Database
from services.kit.errors import ServiceUnavailable
from services.kit.tasks import cancel_and_wait, wait_event

log = logging.getLogger("cityhall.gateway.audit")

STOP_GRACE_SECONDS = 10.0
CHUNK_SIZE = 128
"""Records linked and inserted per statement; between two the event loop serves requests."""

Page = list[ChainLink | Checkpoint]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a reader covers: events up to `max_seq`, checkpoints up to `max_checkpoint_id`."""

    max_seq: int
    max_checkpoint_id: int


def _row_to_link(row: AuditEventRecord) -> ChainLink:
    """The stored record as a link. A stored event that is not canonical JSON (someone
    edited the text) is carried as `{"unparseable": text}`, which cannot match its hash."""
    try:
        event = json.loads(row.event)
        if not isinstance(event, dict):
            raise ValueError("not an object")
        canonical_json(event)
    except (ValueError, CanonicalizationError):
        event = {"unparseable": row.event}
    return ChainLink(seq=row.seq, event=event, prev_hash=row.prev_hash, hash=row.hash)


def _row_to_checkpoint(row: AuditCheckpointRecord) -> Checkpoint:
    return Checkpoint(
        kid=row.kid,
        head_seq=row.head_seq,
        head_hash=row.head_hash,
        issued_at=row.issued_at,
        prev_signature=row.prev_signature,
        signature=row.signature,
    )


class AuditLog:
    def __init__(self, settings: AuditSettings, *, default_key_path: Path) -> None:
        self.settings = settings
        self.key_path = settings.key_path or default_key_path
        self.policy = CheckpointPolicy(
            settings.checkpoint_every_events, settings.checkpoint_every_seconds
        )
        self._queue: deque[ChainEntry | Callable[[], ChainEntry]] = deque()
        self._full = asyncio.Event()
        self._stopping = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._flush_lock = asyncio.Lock()
        self._db: Database | None = None
        self._writer: ChainWriter | None = None
        self._keys: KeyStore | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_checkpoint_monotonic = time.monotonic()
        self._maybe_written = False
        self.dropped = 0
        """Access records refused because the queue was full (logged, and counted here)."""

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, db: Database, *, writer: ChainWriter | None = None) -> None:
        """Start writing to `db` (through `writer`, by default the one for its driver)."""
        self._keys = await asyncio.to_thread(KeyStore.load_or_create, self.key_path)
        self._db = db
        self._writer = writer or writer_for(db)
        self._last_checkpoint_monotonic = time.monotonic()
        self._stopping.clear()
        self._tasks = [
            asyncio.create_task(self._flush_loop(), name="cityhall-audit-flush"),
            asyncio.create_task(self._checkpoint_loop(), name="cityhall-audit-checkpoint"),
        ]

    async def stop(self) -> None:
        """Stop the background tasks, write what is queued and sign the final head.

        The tasks are asked to stop between writes rather than cancelled: a write cancelled
        while SQLite's BEGIN IMMEDIATE runs in aiosqlite's thread could leave its connection
        holding the lock, and the final flush would then fail with "database is locked"."""
        self._stopping.set()
        self._full.set()  # wakes the flusher
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=STOP_GRACE_SECONDS)
        for task in self._tasks:
            await cancel_and_wait(task)  # only one stuck past the grace period
        self._tasks = []
        if self._db is None:
            return
        try:
            await self.flush()
            await self.checkpoint(only_if_new=True)
        except Exception:
            log.exception("audit log: final flush failed; %d records lost", len(self._queue))
        finally:
            try:
                await self.writer.close()  # the connection it keeps between transactions
            except Exception:
                log.exception("audit log: closing the writer's connection failed")
            self._db = None
            self._writer = None

    @property
    def db(self) -> Database:
        if self._db is None:
            raise ServiceUnavailable("the audit log is not running")
        return self._db

    @property
    def writer(self) -> ChainWriter:
        if self._writer is None:
            raise ServiceUnavailable("the audit log is not running")
        return self._writer

    @property
    def keystore(self) -> KeyStore:
        if self._keys is None:
            raise ServiceUnavailable("the audit log is not running")
        return self._keys

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {key.kid: key.public_key for key in self.keystore.keys}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [public_key_to_jwk(k, v) for k, v in sorted(self.public_keys().items())]}

    # --- writing --------------------------------------------------------------------------

    def record_access(self, entry: ChainEntry | Callable[[], ChainEntry]) -> None:
        """Queue an access record, or what builds it when it is written; never waits. A full
        queue drops the record (and says so)."""
        if len(self._queue) >= self.settings.queue_size:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("audit queue full: %d access records dropped so far", self.dropped)
            return
        self._queue.append(entry)
        if len(self._queue) >= self.settings.batch_size:
            self._full.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def flush(self, *, only_queued_now: bool = False) -> int:
        """Write every queued access record now; returns how many were written. With
        `only_queued_now`, records that arrive meanwhile wait for the next flush: under load
        a flusher that chased the queue would write tiny batches back to back, a whole
        transaction for every few records."""
        written = 0
        async with self._flush_lock:
            remaining = len(self._queue) if only_queued_now else None
            while self._queue and (remaining is None or remaining > 0):
                size = min(self.settings.batch_size, len(self._queue))
                if remaining is not None:
                    size = min(size, remaining)
                    remaining -= size
                batch = self._built(size)
                try:  # on failure the batch stays queued for the next try
                    await self.append(batch, dedupe=self._maybe_written)
                except BaseException:
                    # The commit may have happened with only its answer lost: the next try
                    # skips what did get in (the unique event ids would refuse it forever).
                    self._maybe_written = True
                    raise
                self._maybe_written = False
                for _ in batch:
                    self._queue.popleft()
                written += len(batch)
        return written

    def _built(self, size: int) -> list[ChainEntry]:
        """The first `size` queued records, built now where a builder was queued (and kept
        built, should this batch have to be written again)."""
        batch: list[ChainEntry] = []
        for index, item in enumerate(islice(self._queue, size)):
            if not isinstance(item, ChainEntry):
                item = self._queue[index] = item()
            batch.append(item)
        return batch

    async def append(self, entries: Sequence[ChainEntry], *, dedupe: bool = False) -> int:
        """Chain `entries` in order, in one transaction; with `dedupe`, skip event ids already
        in the log (and repeats within the batch). Returns how many were appended."""
        if not entries:
            return 0
        async with self._write_lock, self.writer.transaction() as transaction:
            head = await transaction.lock_head()
            if dedupe:
                seen = await transaction.seen(list({entry.event_id for entry in entries}))
                entries = _unseen(entries, seen)
                if not entries:
                    return 0
            seq, prev_hash = head.seq, head.hash
            for start in range(0, len(entries), CHUNK_SIZE):
                chunk = entries[start : start + CHUNK_SIZE]
                hashes = link_hashes(prev_hash, [entry.canonical for entry in chunk])
                await transaction.insert(seq + 1, chunk, prev_hash, hashes)  # the loop runs
                seq, prev_hash = seq + len(chunk), hashes[-1]
            head.seq, head.hash = seq, prev_hash
            checkpoint = None
            if head.seq - head.checkpoint_seq >= self.policy.every_events:
                checkpoint = self._sign(head)
            await transaction.save_head(head, checkpoint)
        return len(entries)

    def _sign(self, head: Head) -> Checkpoint:
        """A checkpoint over `head`, which now records it (the caller saves both)."""
        key = self.keystore.current
        now = datetime.now(UTC)  # wall time: the simulation clock resets when a process restarts
        if head.checkpoint_issued_at is not None:
            now = max(now, parse_rfc3339(head.checkpoint_issued_at))
        checkpoint = sign_checkpoint(
            key.private_key,
            key.kid,
            head.seq,
            head.hash,
            rfc3339_utc(now),
            head.checkpoint_signature,
        )
        head.checkpoint_seq = checkpoint.head_seq
        head.checkpoint_signature = checkpoint.signature
        head.checkpoint_issued_at = checkpoint.issued_at
        self._last_checkpoint_monotonic = time.monotonic()
        return checkpoint

    async def checkpoint(self, *, only_if_new: bool = False) -> Checkpoint | None:
        """Sign the current head now (with `only_if_new`, only when it moved since the last)."""
        async with self._write_lock, self.writer.transaction() as transaction:
            head = await transaction.lock_head()
            if only_if_new and head.seq == head.checkpoint_seq:
                return None
            checkpoint = self._sign(head)
            await transaction.save_head(head, checkpoint)
        return checkpoint

    async def checkpoint_if_due(self) -> Checkpoint | None:
        async with self.db.session(write=False) as session:
            head = (
                await session.exec(select(AuditChainHead).where(col(AuditChainHead.id) == 1))
            ).one_or_none()
        events_since = 0 if head is None else head.seq - head.checkpoint_seq
        if head is not None and head.checkpoint_issued_at is not None:
            age = (datetime.now(UTC) - parse_rfc3339(head.checkpoint_issued_at)).total_seconds()
        else:
            age = time.monotonic() - self._last_checkpoint_monotonic
        if not self.policy.due(events_since, age):
            return None
        return await self.checkpoint()

    async def _flush_loop(self) -> None:
        interval = self.settings.flush_interval_seconds
        while True:
            await wait_event(self._full, interval)
            if self._stopping.is_set():
                return  # stop() writes the rest
            self._full.clear()
            try:
                await self.flush(only_queued_now=True)
            except Exception:
                log.exception("audit log: writing access records failed; will retry")
                await asyncio.sleep(interval)

    async def _checkpoint_loop(self) -> None:
        interval = min(1.0, self.settings.checkpoint_every_seconds / 2)
        while True:
            await wait_event(self._stopping, interval)
            if self._stopping.is_set():
                return
            try:
                await self.checkpoint_if_due()
            except Exception:
                log.exception("audit log: periodic checkpoint failed; will retry")

    # --- reading --------------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        """Checkpoints first, then events: every checkpoint read signs a head at or below
        the events read, since both only grow under the head lock."""
        async with self.db.session(write=False) as session:
            max_checkpoint = (
                await session.exec(select(func.coalesce(func.max(AuditCheckpointRecord.id), 0)))
            ).one()
            max_seq = (
                await session.exec(select(func.coalesce(func.max(AuditEventRecord.seq), 0)))
            ).one()
        return Snapshot(max_seq=int(max_seq or 0), max_checkpoint_id=int(max_checkpoint or 0))

    async def pages(self, snapshot: Snapshot) -> AsyncGenerator[Page, None]:
        """Events and checkpoints in log order (each checkpoint before the first event past
        its head), a page at a time, constant memory."""
        size = self.settings.page_size
        after_seq, after_checkpoint = 0, 0
        checkpoints: deque[Checkpoint] = deque()
        checkpoints_done = False

        async def more_checkpoints() -> None:
            nonlocal after_checkpoint, checkpoints_done
            async with self.db.session(write=False) as session:
                rows = list(
                    await session.exec(
                        select(AuditCheckpointRecord)
                        .where(col(AuditCheckpointRecord.id) > after_checkpoint)
                        .where(col(AuditCheckpointRecord.id) <= snapshot.max_checkpoint_id)
                        .order_by(col(AuditCheckpointRecord.id))
                        .limit(size)
                    )
                )
            if len(rows) < size:
                checkpoints_done = True
            if rows:
                after_checkpoint = rows[-1].id or after_checkpoint
            checkpoints.extend(_row_to_checkpoint(row) for row in rows)

        await more_checkpoints()
        while True:
            async with self.db.session(write=False) as session:
                rows = list(
                    await session.exec(
                        select(AuditEventRecord)
                        .where(col(AuditEventRecord.seq) > after_seq)
                        .where(col(AuditEventRecord.seq) <= snapshot.max_seq)
                        .order_by(col(AuditEventRecord.seq))
                        .limit(size)
                    )
                )
            page: Page = []
            for row in rows:
                link = _row_to_link(row)
                while True:
                    if not checkpoints and not checkpoints_done:
                        await more_checkpoints()
                    if not checkpoints or checkpoints[0].head_seq >= link.seq:
                        break
                    page.append(checkpoints.popleft())
                page.append(link)
            if rows:
                after_seq = rows[-1].seq
                yield page
            if len(rows) < size:
                break
        rest: Page = []
        while checkpoints or not checkpoints_done:
            if not checkpoints:
                await more_checkpoints()
                continue
            rest.append(checkpoints.popleft())
            if len(rest) >= size:
                yield rest
                rest = []
        if rest:
            yield rest

    async def verify(self) -> VerifyReport:
        """Verify the whole log against this gateway's audit keys. Hashing runs in a worker
        thread that pulls pages from the event loop one at a time."""
        loop = asyncio.get_running_loop()
        snapshot = await self.snapshot()
        pages = self.pages(snapshot)

        def records() -> Iterator[AuditRecord]:
            while True:
                future = asyncio.run_coroutine_threadsafe(_next_page(pages), loop)
                page = future.result()
                if page is None:
                    return
                yield from page

        try:
            return await asyncio.to_thread(verify, records(), self.public_keys())
        finally:
            await pages.aclose()

    async def export(self) -> AsyncIterator[str]:
        """The JSONL export (gateway.audit_chain.export format), line by line."""
        snapshot = await self.snapshot()
        yield header_line(self.public_keys()) + "\n"
        async for page in self.pages(snapshot):
            yield "".join(record_line(record) + "\n" for record in page)

    async def events(
        self,
        *,
        limit: int,
        before_seq: int | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        kind: str | None = None,
        service: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditEventRecord]:
        """Newest first; `before_seq` continues a page."""
        statement: Any = select(AuditEventRecord)
        filters: list[Any] = []
        if before_seq is not None:
            filters.append(col(AuditEventRecord.seq) < before_seq)
        if actor is not None:
            filters.append(col(AuditEventRecord.actor) == actor)
        if action is not None:
            filters.append(col(AuditEventRecord.action) == action)
        if target is not None:
            filters.append(col(AuditEventRecord.target) == target)
        if kind is not None:
            filters.append(col(AuditEventRecord.kind) == kind)
        if service is not None:
            filters.append(col(AuditEventRecord.service) == service)
        if since is not None:
            filters.append(col(AuditEventRecord.recorded_at) >= since)
        if until is not None:
            filters.append(col(AuditEventRecord.recorded_at) < until)
        statement = statement.where(*filters).order_by(col(AuditEventRecord.seq).desc())
        async with self.db.session(write=False) as session:
            return list(await session.exec(statement.limit(limit)))


def _unseen(entries: Sequence[ChainEntry], seen: set[str]) -> list[ChainEntry]:
    """`entries` without those in `seen`, and each event id once (its first occurrence)."""
    seen = set(seen)
    unseen: list[ChainEntry] = []
    for entry in entries:
        if entry.event_id not in seen:
            seen.add(entry.event_id)
            unseen.append(entry)
    return unseen


async def _next_page(pages: AsyncIterator[Page]) -> Page | None:
    try:
        return await anext(pages)
    except StopAsyncIteration:
        return None


def parse_stored_event(text: str) -> dict[str, JsonValue]:
    """A stored event for display; a non-object (tampered text) is shown as such."""
    try:
        value = json.loads(text)
    except ValueError:
        return {"unparseable": text}
    return value if isinstance(value, dict) else {"unparseable": text}
