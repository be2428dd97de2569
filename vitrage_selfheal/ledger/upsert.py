"""Inserts that may find their row already there, without failing the
transaction around them.

Two replicas without a lock backend can race to insert the same unit,
alarm, intent or counter; the loser must see "already there", not lose
the decision it is recording. PostgreSQL aborts the whole transaction on
a failed INSERT, so the portable way is a savepoint around each insert
(three statements and much ORM bookkeeping). SQLite and PostgreSQL both
take INSERT ... ON CONFLICT, in the same words: one statement, nothing
aborted. Other backends (MySQL) keep the savepoint; MySQL's INSERT IGNORE
would also swallow a value too long for its column, which must stay an
error.

Statements are built once per table: building and keying a statement
costs more than SQLite takes to run it. The ON CONFLICT ones are written
out as text, because SQLAlchemy (2.0) compiles its dialect-specific
upsert constructs afresh on every execution.
"""

from __future__ import annotations

from typing import Any, Optional, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc, orm

from vitrage_selfheal.ledger.models import CounterRow

# Both say ON CONFLICT (SQLite since 3.24, RETURNING since 3.35).
ON_CONFLICT = frozenset({"sqlite", "postgresql"})

Row = TypeVar("Row")


class Writer:
    """The inserts of one dialect; one instance per dialect name."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.native = dialect in ON_CONFLICT
        self._cache: dict[tuple[str, str], sa.Executable] = {}

    def _stmt(self, kind: str, table: sa.Table) -> sa.Executable:
        stmt = self._cache.get((kind, table.name))
        if stmt is None:
            stmt = self._build(kind, table)
            self._cache[(kind, table.name)] = stmt
        return stmt

    @staticmethod
    def _build(kind: str, table: sa.Table) -> sa.Executable:
        if kind == "plain":
            return table.insert()
        if kind == "counted":
            return Writer._counted(table)
        # Our table and column names are plain lowercase words: no quoting.
        names = [c.name for c in table.columns
                 if not (kind == "new_id" and c.name == "id")]
        sql = (f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
               f"({', '.join(':' + n for n in names)}) ON CONFLICT ")
        if kind == "new":
            sql += "DO NOTHING"
        elif kind == "new_id":
            sql += "DO NOTHING RETURNING id"
        elif kind == "add":
            sql += (f"(name) DO UPDATE SET value = {table.name}.value + "
                    f"excluded.value")
        else:
            raise ValueError(kind)
        # Typed binds: the values go through the columns' own conversions.
        return sa.text(sql).bindparams(
            *(sa.bindparam(n, type_=table.c[n].type) for n in names))

    @staticmethod
    def _counted(table: sa.Table) -> sa.Executable:
        # PostgreSQL only (DML in a CTE): the counter's upsert rides with
        # the row's insert, one round trip instead of two.
        counters = CounterRow.__table__
        names = [c.name for c in table.columns if c.name != "id"]
        sql = (f"WITH c AS (INSERT INTO {counters.name} (name, value) "
               f"VALUES (:counter_name, :counter_by) ON CONFLICT (name) DO "
               f"UPDATE SET value = {counters.name}.value + excluded.value) "
               f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
               f"({', '.join(':' + n for n in names)})")
        return sa.text(sql).bindparams(
            sa.bindparam("counter_name", type_=counters.c.name.type),
            sa.bindparam("counter_by", type_=counters.c.value.type),
            *(sa.bindparam(n, type_=table.c[n].type) for n in names))

    # -- the writes ----------------------------------------------------------
    def insert(self, session: orm.Session, table: sa.Table,
               values: dict[str, Any]) -> None:
        """A plain INSERT on the transaction's connection: no unit of work,
        no flush of what else is pending."""
        session.connection().execute(self._stmt("plain", table), values)

    def insert_counted(self, session: orm.Session, table: sa.Table,
                       values: dict[str, Any], counter: str,
                       by: int = 1) -> None:
        """insert, and add_to_counter(counter, by), in one transaction;
        in one statement on PostgreSQL."""
        if self.dialect != "postgresql":
            self.insert(session, table, values)
            self.add_to_counter(session, counter, by)
            return
        session.connection().execute(
            self._stmt("counted", table),
            dict(values, counter_name=counter, counter_by=by))

    def insert_new(self, session: orm.Session, table: sa.Table,
                   values: dict[str, Any]) -> bool:
        """Insert unless a row with the same key is there; True if
        inserted."""
        if self.native:
            done = session.connection().execute(self._stmt("new", table),
                                                values)
            return done.rowcount == 1
        try:
            with session.begin_nested():
                self.insert(session, table, values)
        except exc.IntegrityError:
            return False
        return True

    def insert_new_id(self, session: orm.Session, table: sa.Table,
                      values: dict[str, Any]) -> Optional[int]:
        """insert_new for a table with an autoincrement `id`: the new id,
        or None if a unique constraint already holds such a row."""
        if self.native:
            return session.connection().execute(
                self._stmt("new_id", table), values).scalar()
        try:
            with session.begin_nested():
                done = session.connection().execute(
                    self._stmt("plain", table), values)
        except exc.IntegrityError:
            return None
        return done.inserted_primary_key[0]

    def add_to_counter(self, session: orm.Session, name: str,
                       by: int) -> None:
        """`value = value + by`, the row created at `by` if missing; two
        replicas counting at once both count."""
        table = CounterRow.__table__
        if self.native:
            session.connection().execute(self._stmt("add", table),
                                         {"name": name, "value": by})
            return
        if self._bump(session, name, by):
            return
        if not self.insert_new(session, table, {"name": name, "value": by}):
            # Another replica created it between our UPDATE and INSERT.
            self._bump(session, name, by)

    @staticmethod
    def _bump(session: orm.Session, name: str, by: int) -> bool:
        done = session.connection().execute(
            sa.update(CounterRow.__table__)
            .where(CounterRow.__table__.c.name == name)
            .values(value=CounterRow.__table__.c.value + by))
        return done.rowcount == 1


_WRITERS: dict[str, Writer] = {}


def writer(dialect: str) -> Writer:
    found = _WRITERS.get(dialect)
    if found is None:
        found = _WRITERS[dialect] = Writer(dialect)
    return found


def adopt(session: orm.Session, cls: type[Row],
          values: dict[str, Any]) -> Row:
    """The row of `cls` holding `values` (every column), part of the
    session as if a query had loaded it: for a row we just inserted, or
    read, with Core. The one already in the session wins: what this
    transaction changed on it stays."""
    mapper = orm.class_mapper(cls)
    key = mapper.identity_key_from_primary_key(
        [values[c.key] for c in mapper.primary_key])
    found = session.identity_map.get(key)
    if found is not None:
        return found
    # The mapper's own constructor without the attribute events: history
    # is reset below anyway, as for a loaded row.
    row = mapper.class_manager.new_instance()
    row.__dict__.update(values)
    orm.make_transient_to_detached(row)
    session.add(row)
    return row


def update(session: orm.Session, row: object,
           values: dict[str, Any]) -> None:
    """Store these columns of a row of the session now, by its primary
    key, and tell the row they are stored: nothing left for the flush.
    Unchanged values are not written."""
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if not changed:
        return
    mapper = orm.object_mapper(row)
    params = {f"pk_{c.key}": getattr(row, c.key) for c in mapper.primary_key}
    params.update(changed)
    session.connection().execute(_update_stmt(mapper.local_table), params)
    for key, value in changed.items():
        orm.attributes.set_committed_value(row, key, value)


_UPDATES: dict[str, sa.Executable] = {}


def _update_stmt(table: sa.Table) -> sa.Executable:
    # The SET columns are those of the parameters; the key's binds are
    # named apart from them.
    stmt = _UPDATES.get(table.name)
    if stmt is None:
        stmt = _UPDATES[table.name] = table.update().where(sa.and_(*(
            c == sa.bindparam(f"pk_{c.key}") for c in table.primary_key)))
    return stmt
