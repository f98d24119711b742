from alembic import context

from services.kit.migrate import run_env

run_env(context)
