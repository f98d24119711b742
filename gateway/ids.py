"""Ids made on every request (request ids, access-record ids): 128 random bits from a
generator seeded once from the OS. They need to be unique, not secret; os.urandom costs a
syscall each time (~7 µs on this VM, two per request)."""

from __future__ import annotations

import os
import random
import time

_random = random.Random(os.urandom(32))  # noqa: S311 - ids, not secrets
# A forked worker would otherwise repeat its parent's sequence.
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(32)))


def new_hex_id() -> str:
    """32 lowercase hex digits, like `uuid4().hex`."""
    return f"{_random.getrandbits(128):032x}"


def new_sortable_hex_id() -> str:
    """32 lowercase hex digits that sort by creation time: the wall clock in milliseconds
    (12 digits), then 80 random bits. The unique index on access-record ids then grows at its
    end; with random ids every insert dirtied its own index page (bench/audit_append.py:
    SQLite wrote twice the pages per record)."""
    return f"{time.time_ns() // 1_000_000:012x}{_random.getrandbits(80):020x}"
