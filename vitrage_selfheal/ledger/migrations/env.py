"""Alembic environment: the connection is handed in by ledger.migrate."""

from alembic import context

from vitrage_selfheal.ledger.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run ledger migrations through vitrage_selfheal.ledger.migrate")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
