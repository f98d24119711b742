"""Reading the dev mail sink's mailbox API (`deploy/mailsink.py`) of a running stack."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

POLLS = 300  # the sink answers at once; a mail may take the outbox relay a while under load
POLL_SECONDS = 0.2


async def mail_to(client: httpx.AsyncClient, address: str, subject_part: str) -> dict[str, Any]:
    """The first message to `address` whose subject contains `subject_part`, once it arrives."""
    for _ in range(POLLS):
        listing = (await client.get("/api/messages", params={"to": address})).json()
        for summary in listing["messages"]:
            if subject_part in summary["subject"]:
                detail: dict[str, Any] = (await client.get(f"/api/messages/{summary['id']}")).json()
                return detail
        await asyncio.sleep(POLL_SECONDS)
    pytest.fail(f"no mail to {address} with {subject_part!r} arrived")


def link_in(text: str, path: str) -> str:
    """The mailed link to `path` (with its token) in a message's text."""
    match = re.search(rf"http://\S+{re.escape(path)}\?token=\S+", text)
    assert match is not None, text
    return match.group(0)
