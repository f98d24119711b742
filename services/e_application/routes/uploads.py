"""Reading one uploaded file from a multipart/form-data body (RFC 7578) with the standard
library's MIME parser; the OpenAPI of such a body."""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from services.kit.errors import BadRequest, UnprocessableContent

MULTIPART = "multipart/form-data"
MAX_PARTS = 10


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str | None
    content: bytes
    fields: dict[str, str]


async def read_upload(request: Request) -> Upload:
    """The part named `file` and the small text fields beside it."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != MULTIPART:
        raise UnprocessableContent(
            "send the file as multipart/form-data with a part named file", field="file"
        )
    body = await request.body()
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    try:
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    except (ValueError, TypeError) as exc:
        raise BadRequest("the multipart body could not be read") from exc
    if not parsed.is_multipart():
        raise BadRequest("the multipart body could not be read")
    file: tuple[str | None, bytes] | None = None
    fields: dict[str, str] = {}
    for count, part in enumerate(parsed.iter_parts()):
        if count >= MAX_PARTS:
            raise UnprocessableContent(f"at most {MAX_PARTS} parts", field="file")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if name == "file":
            if file is not None:
                raise UnprocessableContent("send one file per request", field="file")
            filename = part.get_filename()
            file = (filename if isinstance(filename, str) else None, data)
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UnprocessableContent(f"{name} must be UTF-8 text", field=name) from exc
            if "\x00" in text or len(text) > 500:
                raise UnprocessableContent(f"{name} is not valid", field=name)
            fields[name] = text
    if file is None:
        raise UnprocessableContent("a part named file is required", field="file")
    return Upload(filename=file[0], content=file[1], fields=fields)


def upload_body(*extra_fields: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads `read_upload`."""
    properties: dict[str, Any] = {"file": {"type": "string", "format": "binary"}}
    properties.update(dict(extra_fields))
    return {
        "requestBody": {
            "required": True,
            "content": {
                MULTIPART: {
                    "schema": {"type": "object", "required": ["file"], "properties": properties}
                }
            },
        }
    }
