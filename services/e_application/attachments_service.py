"""Attachments: the applicant's documents and 委任状, and the documents staff issue back.

Content is stored once per SHA-256 under the service's directory (file I/O off the event
loop); the row says whose it is. Types are judged from the bytes, sizes are capped by the
procedure's policy."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application.domain.catalogue import MAX_ATTACHMENT_BYTES, ProcedureDefinition
from services.e_application.domain.lifecycle import EDITABLE, Status
from services.e_application.domain.uploads import UPLOADABLE, MediaType, safe_filename, sniff
from services.e_application.models import Application, Attachment
from services.e_application.schemas.applications import AttachmentRead
from services.kit.auth import Principal
from services.kit.errors import Conflict, NotFound, PayloadTooLarge, UnprocessableContent
from services.kit.ids import new_id


class AttachmentKind(StrEnum):
    DOCUMENT = "document"  # 添付書類
    POWER_OF_ATTORNEY = "power_of_attorney"  # 委任状
    ISSUED = "issued"  # 交付文書 / 開示文書, attached by staff


APPLICANT_KINDS = frozenset({AttachmentKind.DOCUMENT, AttachmentKind.POWER_OF_ATTORNEY})
MAX_POWERS_OF_ATTORNEY = 2
ISSUED_MAX_BYTES = MAX_ATTACHMENT_BYTES


class AttachmentStore:
    """Content-addressed files under `root` (`ab/abcdef…`), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError("not a storage key")
        return self.root / key[:2] / key

    def _write(self, key: str, content: bytes) -> None:
        path = self._path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(self, content: bytes) -> str:
        key = hashlib.sha256(content).hexdigest()
        await asyncio.to_thread(self._write, key, content)
        return key

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)


def attachment_read(row: Attachment) -> AttachmentRead:
    return AttachmentRead(
        id=row.id,
        kind=row.kind,
        filename=row.filename,
        title=row.title,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
    )


async def attachments_of(session: AsyncSession, application_id: str) -> list[Attachment]:
    result = await session.exec(
        select(Attachment)
        .where(col(Attachment.application_id) == application_id)
        .order_by(col(Attachment.id))
    )
    return list(result.all())


async def has_issued_documents(session: AsyncSession, application_id: str) -> bool:
    """Whether staff attached documents to hand over (the completion notice says so)."""
    found = await session.exec(
        select(Attachment.id)
        .where(col(Attachment.application_id) == application_id)
        .where(col(Attachment.kind) == AttachmentKind.ISSUED.value)
        .limit(1)
    )
    return found.first() is not None


def _check_content(content: bytes, accepted: list[MediaType], max_bytes: int) -> MediaType:
    if not content:
        raise UnprocessableContent("the file is empty", field="file")
    if len(content) > max_bytes:
        raise PayloadTooLarge(
            f"the file is larger than {max_bytes} bytes",
            errors=[{"field": "file", "message": f"at most {max_bytes} bytes"}],
            max_bytes=max_bytes,
        )
    media_type = sniff(content)
    if media_type is None or media_type not in accepted:
        names = ", ".join(m.value for m in accepted)
        raise UnprocessableContent(
            f"the file's content is not one of the accepted types ({names})", field="file"
        )
    return media_type


async def add_applicant_file(
    session: AsyncSession,
    store: AttachmentStore,
    application: Application,
    spec: ProcedureDefinition,
    *,
    kind: AttachmentKind,
    filename: str | None,
    content: bytes,
    uploader: Principal | None,
    now: datetime,
) -> Attachment:
    if Status(application.status) not in EDITABLE:
        raise Conflict(
            f"attachments can be changed only before submitting or while returned "
            f"(the state is {application.status})",
            current_state=application.status,
        )
    existing = await attachments_of(session, application.id)
    if kind is AttachmentKind.POWER_OF_ATTORNEY:
        accepted: list[MediaType] = list(UPLOADABLE)
        max_bytes = spec.attachments.max_bytes
        count = sum(1 for a in existing if a.kind == kind)
        limit = MAX_POWERS_OF_ATTORNEY
    else:
        accepted = list(spec.attachments.accepted)
        max_bytes = spec.attachments.max_bytes
        count = sum(1 for a in existing if a.kind == kind)
        limit = spec.attachments.max_count
    if count >= limit:
        raise UnprocessableContent(
            f"this procedure takes at most {limit} attachments of kind {kind.value}", field="kind"
        )
    media_type = _check_content(content, accepted, max_bytes)
    return await _store(
        session, store, application, kind, filename, content, media_type, uploader, now, None
    )


async def add_issued_file(
    session: AsyncSession,
    store: AttachmentStore,
    application: Application,
    *,
    filename: str | None,
    title: str | None,
    content: bytes,
    issuer: Principal,
    now: datetime,
    media_type: MediaType | None = None,
) -> Attachment:
    """A document the city issues back; `media_type` when the service rendered it itself."""
    if media_type is None:
        media_type = _check_content(content, list(UPLOADABLE), ISSUED_MAX_BYTES)
    return await _store(
        session,
        store,
        application,
        AttachmentKind.ISSUED,
        filename,
        content,
        media_type,
        issuer,
        now,
        title,
    )


async def _store(
    session: AsyncSession,
    store: AttachmentStore,
    application: Application,
    kind: AttachmentKind,
    filename: str | None,
    content: bytes,
    media_type: MediaType,
    uploader: Principal | None,
    now: datetime,
    title: str | None,
) -> Attachment:
    key = await store.put(content)
    row = Attachment(
        id=new_id("att"),
        application_id=application.id,
        kind=kind.value,
        filename=safe_filename(filename, media_type),
        media_type=media_type.value,
        size=len(content),
        sha256=key,
        storage_key=key,
        uploaded_by=uploader.sub if uploader else None,
        title=title,
        created_at=now,
    )
    session.add(row)
    application.updated_at = now
    await session.flush()
    return row


async def get_attachment(
    session: AsyncSession, application_id: str, attachment_id: str
) -> Attachment:
    row = await session.get(Attachment, attachment_id)
    if row is None or row.application_id != application_id:
        raise NotFound(f"no attachment {attachment_id}")
    return row


async def remove_applicant_file(
    session: AsyncSession, application: Application, attachment_id: str, now: datetime
) -> None:
    row = await get_attachment(session, application.id, attachment_id)
    if row.kind not in APPLICANT_KINDS:
        raise NotFound(f"no attachment {attachment_id}")
    if Status(application.status) not in EDITABLE:
        raise Conflict(
            f"attachments can be changed only before submitting or while returned "
            f"(the state is {application.status})",
            current_state=application.status,
        )
    await session.delete(row)
    application.updated_at = now
    await session.flush()
