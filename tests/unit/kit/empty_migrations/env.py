"""An empty service history, so tests can migrate just the kit's tables."""

from alembic import context

from services.kit.migrate import run_env

run_env(context)  # type: ignore[arg-type]
