"""The Alembic history of the demo fee-charging service the kit.payments tests run."""

from alembic import context

from services.kit.migrate import run_env

run_env(context)  # type: ignore[arg-type]
