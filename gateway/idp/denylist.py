"""What the gateway's bearer check refuses although the signature is good: revoked access
tokens (by `jti`, until they expire) and every token of a disabled account (by `sub`).

Kept in memory and loaded from the database at start, so the check costs a set lookup on the
hot path. One gateway process sees its own changes at once; several replicas would need to
reload it (not done yet).
"""

from __future__ import annotations

import time

from services.kit.auth import Principal


class Denylist:
    def __init__(self) -> None:
        self._jtis: dict[str, float] = {}
        self._subjects: set[str] = set()

    def revoke_token(self, jti: str, expires_at: float) -> None:
        self._jtis[jti] = expires_at
        if len(self._jtis) > 10_000:
            now = time.time()
            for key in [k for k, exp in self._jtis.items() if exp < now]:
                del self._jtis[key]

    def disable(self, sub: str) -> None:
        self._subjects.add(sub)

    def enable(self, sub: str) -> None:
        self._subjects.discard(sub)

    def refuses(self, principal: Principal) -> bool:
        if principal.sub in self._subjects:
            return True
        return principal.token_id is not None and principal.token_id in self._jtis

    async def is_revoked(self, principal: Principal) -> bool:
        """The `TokenVerifier.is_revoked` hook."""
        return self.refuses(principal)
