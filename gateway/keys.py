"""The gateway's Ed25519 token-signing keys, kept in one JSON file (mode 0600).

The newest key signs; older keys stay in the public JWKS for `retain` after they were retired,
so tokens signed just before a rotation keep verifying. `kid` is the RFC 7638 thumbprint of the
public key. File I/O is blocking: call `load_or_create` and `rotate` off the event loop
(`asyncio.to_thread`) when a loop is running.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from services.kit.errors import Unauthorized

KEY_FILE_VERSION = 1
DEFAULT_RETAIN = timedelta(days=1)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _public_x(key: Ed25519PublicKey) -> str:
    return _b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def thumbprint(x: str) -> str:
    """RFC 7638 JWK thumbprint of an Ed25519 public key (members in lexical order)."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    created_at: datetime
    retired_at: datetime | None = None

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @classmethod
    def generate(cls, now: datetime) -> SigningKey:
        private_key = Ed25519PrivateKey.generate()
        return cls(thumbprint(_public_x(private_key.public_key())), private_key, now)

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _public_x(self.public_key),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }

    def to_record(self) -> dict[str, Any]:
        raw = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return {
            "kid": self.kid,
            "d": _b64url(raw),
            "created_at": self.created_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SigningKey:
        private_key = Ed25519PrivateKey.from_private_bytes(_b64url_decode(record["d"]))
        kid = thumbprint(_public_x(private_key.public_key()))
        if record.get("kid") != kid:
            raise ValueError(f"signing key {record.get('kid')!r} does not match its key material")
        retired = record.get("retired_at")
        return cls(
            kid,
            private_key,
            datetime.fromisoformat(record["created_at"]),
            datetime.fromisoformat(retired) if retired else None,
        )


def _write_private_file(path: Path, text: str) -> None:
    """Atomic replace of `path` with a file that only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise


class KeyStore:
    """Signing keys, newest last. Also a `services.kit.auth.KeySource` for the gateway."""

    def __init__(
        self,
        keys: list[SigningKey],
        *,
        path: Path | None = None,
        retain: timedelta = DEFAULT_RETAIN,
    ) -> None:
        if not keys:
            raise ValueError("a key store needs at least one key")
        self._keys = list(keys)
        self.path = path
        self.retain = retain

    @classmethod
    def generate(cls, *, now: datetime | None = None) -> KeyStore:
        """An in-memory store with one fresh key (tests, single-process tools)."""
        return cls([SigningKey.generate(now or datetime.now(UTC))])

    @classmethod
    def load_or_create(
        cls, path: Path, *, now: datetime | None = None, retain: timedelta = DEFAULT_RETAIN
    ) -> KeyStore:
        if path.exists():
            document = json.loads(path.read_text(encoding="utf-8"))
            keys = [SigningKey.from_record(r) for r in document["keys"]]
            return cls(keys, path=path, retain=retain)
        store = cls([SigningKey.generate(now or datetime.now(UTC))], path=path, retain=retain)
        store.save()
        return store

    def save(self) -> None:
        if self.path is None:
            return
        document = {"version": KEY_FILE_VERSION, "keys": [k.to_record() for k in self._keys]}
        _write_private_file(self.path, json.dumps(document, indent=2) + "\n")

    @property
    def current(self) -> SigningKey:
        return self._keys[-1]

    @property
    def keys(self) -> tuple[SigningKey, ...]:
        return tuple(self._keys)

    def rotate(self, *, now: datetime | None = None) -> SigningKey:
        """A new current key; the old one stays published until `retain` after now."""
        now = now or datetime.now(UTC)
        retired = self.current
        self._keys[-1] = SigningKey(retired.kid, retired.private_key, retired.created_at, now)
        self._keys = [
            k for k in self._keys if k.retired_at is None or k.retired_at + self.retain > now
        ]
        fresh = SigningKey.generate(now)
        self._keys.append(fresh)
        self.save()
        return fresh

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [k.public_jwk() for k in reversed(self._keys)]}

    async def key(self, kid: str) -> Ed25519PublicKey:
        """KeySource protocol: the public key for `kid`, or 401 for an unknown one."""
        for signing_key in self._keys:
            if signing_key.kid == kid:
                return signing_key.public_key
        raise Unauthorized("token signed with an unknown key")
