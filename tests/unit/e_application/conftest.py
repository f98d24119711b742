"""Fixtures of e_application's tests: the real app on SQLite (and PostgreSQL when
configured), seeded with the demo catalogue, trusting a real mock JPKI CA."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.e_application.app import create_app
from services.e_application.routes.deps import TRUST
from services.e_application.seed import seed
from services.e_application.settings import Settings
from services.kit.app import RuntimeOptions
from tests.support.apps import running
from tests.support.tokens import TokenFactory
from tests.unit.e_application.support import Api, CardAuthority, demo_city


@pytest.fixture
async def api(db_url: str, tokens: TokenFactory, tmp_path: Path) -> AsyncIterator[Api]:
    ca = CardAuthority()
    app = create_app(
        Settings(database_url=db_url, environment="test", var_dir=tmp_path),
        RuntimeOptions(key_source=tokens.key_source(), background=False),
    )
    async with running(app) as client:
        app.state.runtime.extras[TRUST] = ca
        async with app.state.db.session() as session:
            await seed(session, demo_city())
        yield Api(app, client, tokens, ca)
