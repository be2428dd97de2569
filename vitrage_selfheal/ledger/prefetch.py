"""What admission reads first about a unit, in one round trip.

Whether any hold could stop the stack, the unit, its alarms (one row
each) and its open intent (at most one). The holds come first so that a
unit not seen yet still gets them: one row, the rest NULL. Rows are never
deleted, and a unit's alarms and intents are written only after its row:
no unit row, none of them either. Plain columns on the connection, made
rows by the caller (`adopt`): the ORM's own loading took twice the time
of the query.

On PostgreSQL the unit's INSERT ... ON CONFLICT DO NOTHING rides in the
same statement (a data-modifying CTE): most requests of a storm are on a
unit not seen yet, and a round trip to the server costs more than the
statement. The SELECT reads the snapshot taken before the insert, so a
unit inserted here comes back as NULL columns and `inserted` 1; a unit
already there as its row and `inserted` 0. SQLite has no DML in a CTE;
there the insert stays a statement of its own (in-process, no round
trip to save).
"""

from __future__ import annotations

from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy import orm

from vitrage_selfheal.ledger.holds import STOPS
from vitrage_selfheal.ledger.models import OPEN, AlarmRow, IntentRow, UnitRow

# The holds that could stop a stack: two plain binds (holds.STOPS), not
# an expanding IN (that one is re-rendered on every execution).
_HELD = sa.select(sa.exists().where(STOPS).label("held")).subquery("h")
PREFETCHED = (("u", UnitRow), ("a", AlarmRow), ("i", IntentRow))
UNIT_AND_MORE = (
    sa.select(_HELD.c.held, *(
        c.label(f"{prefix}_{c.key}")
        for prefix, cls in PREFETCHED for c in cls.__table__.columns))
    .select_from(_HELD)
    .outerjoin(UnitRow, UnitRow.unit_key == sa.bindparam("unit_key"))
    .outerjoin(AlarmRow, AlarmRow.unit_key == UnitRow.unit_key)
    .outerjoin(IntentRow, sa.and_(IntentRow.unit_key == UnitRow.unit_key,
                                  IntentRow.open_slot == OPEN)))

# Dialects whose prefetch carries the unit's insert (see above).
_INSERTING = frozenset({"postgresql"})
# dialect name -> (statement, the constants its binds hold); built once:
# SQLAlchemy compiles a statement with a DML CTE afresh on each execution.
_BUILT: dict[str, tuple[sa.TextClause, dict[str, Any]]] = {}


def _inserting(dialect: sa.Dialect) -> tuple[sa.TextClause, dict[str, Any]]:
    found = _BUILT.get(dialect.name)
    if found is not None:
        return found
    # Named binds, as sa.text takes them; the compiled SELECT's own
    # constants (the global scope, the shadow kind, OPEN) are kept aside.
    named = type(dialect)(paramstyle="named")
    select = UNIT_AND_MORE.add_columns(
        sa.literal_column("(SELECT count(*) FROM ins)").label("inserted")
    ).compile(dialect=named)
    table = UnitRow.__table__
    names = [c.name for c in table.columns]
    # Our table and column names are plain lowercase words: no quoting.
    sql = (f"WITH ins AS (INSERT INTO {table.name} ({', '.join(names)}) "
           f"VALUES ({', '.join(':' + n for n in names)}) ON CONFLICT "
           f"DO NOTHING RETURNING 1) {select}")
    constants = {k: v for k, v in select.params.items()
                 if k not in ("unit_key", "stack_scope")}
    # Typed binds: the values go through the columns' own conversions.
    stmt = sa.text(sql).bindparams(
        *(sa.bindparam(n, type_=table.c[n].type) for n in names))
    found = _BUILT[dialect.name] = (stmt, constants)
    return found


def load(session: orm.Session, key: str, scope: str,
         new_unit: dict[str, Any]) -> tuple[list[Any], bool]:
    """The prefetch's rows (mappings) and whether `new_unit` (every column
    of the unit's row) was inserted by it. Where the dialect cannot carry
    the insert, nothing is inserted: the caller inserts."""
    conn = session.connection()
    params = {"unit_key": key, "stack_scope": scope}
    if conn.dialect.name not in _INSERTING:
        return conn.execute(UNIT_AND_MORE, params).mappings().all(), False
    stmt, constants = _inserting(conn.dialect)
    rows = conn.execute(stmt, {**constants, **new_unit, **params}
                        ).mappings().all()
    return rows, bool(rows[0]["inserted"])


def columns(values: Any, prefix: str, cls: type) -> Optional[dict]:
    """One row's columns out of a joined result; None if NULL (no row)."""
    table = cls.__table__
    row = {c.key: values[f"{prefix}_{c.key}"] for c in table.columns}
    if all(row[c.key] is None for c in table.primary_key):
        return None
    return row

