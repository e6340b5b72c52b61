"""Alembic environment: runs on the connection :meth:`Database.migrate` hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from sandbox.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` command line with -x url=...
    url = context.get_x_argument(as_dictionary=True)["url"]
    with create_engine(url).connect() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
