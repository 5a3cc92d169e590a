"""Alembic environment: runs migrations on the engine handed over by energy.store.Store."""

from __future__ import annotations

from alembic import context

from energy.store.schema import metadata

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",
    )
    context.run_migrations()
