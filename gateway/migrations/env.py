"""Alembic environment of the gateway's own tables (run through services.kit.migrate)."""

from alembic import context

from services.kit.migrate import run_env

run_env(context)  # type: ignore[arg-type]  # the module proxies an EnvironmentContext
