"""Write statements run straight on SQLite's driver: the hot paths of ingesting (new alerts,
timeline entries, phases, tasks, jobs, deliveries) write with a few Core statements each,
and on SQLite SQLAlchemy's work around each execution (an execution context, events, the
cache lookup, a result) costs several times what SQLite takes to run it.

``write`` compiles a statement once for each set of parameter names (SQLAlchemy's compiler,
with the same bind processors SQLAlchemy applies: UTC datetimes, JSON), then hands the
driver the SQL and the processed values. It runs on the session's own connection, in its
transaction. Errors come wrapped as SQLAlchemy's (``IntegrityError``...), as from
``Connection.execute``. Elsewhere (PostgreSQL), and for statements whose columns have
defaults SQLAlchemy computes in Python, it is ``Connection.execute``.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Insert, Update
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True)
class Compiled:
    """A statement as the driver takes it: its SQL, and how to take a row's values in the
    order of its positional parameters (one C call), and which of them to process how."""

    sql: str
    take: Callable[[dict[str, Any]], tuple[Any, ...]]
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, bind processor)

    def values(self, row: dict[str, Any]) -> list[Any]:
        values = list(self.take(row))
        for position, process in self.processors:
            values[position] = process(values[position])
        return values


_COMPILED: dict[tuple[int, int, tuple[str, ...]], tuple[object, Compiled | None]] = {}


def compiled(
    statement: Insert | Update, keys: tuple[str, ...], dialect: Dialect
) -> Compiled | None:
    """The statement compiled for SQLite with these parameter names (kept: statements are
    built once, at import); None when SQLAlchemy would add values of its own (a column
    default computed in Python) or bind other parameters than those given."""
    cache_key = (id(statement), id(dialect), keys)
    known = _COMPILED.get(cache_key)
    if known is not None:
        return known[1]
    result = _compile(statement, keys, dialect)
    _COMPILED[cache_key] = ((statement, dialect), result)  # held: their ids stay theirs
    return result


def _compile(
    statement: Insert | Update, keys: tuple[str, ...], dialect: Dialect
) -> Compiled | None:
    compiler = statement.compile(dialect=dialect, column_keys=list(keys))
    assert isinstance(compiler, SQLCompiler)
    names = compiler.positiontup
    if not names or compiler.literal_execute_params or compiler.post_compile_params:
        return None
    if compiler.effective_returning:  # rows to give back: Connection.execute's
        return None
    if not set(names) <= set(keys) or compiler.insert_prefetch or compiler.update_prefetch:
        return None  # a default SQLAlchemy computes, or a parameter of the statement's own
    processors = [
        compiler.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    return Compiled(
        sql=compiler.string,
        take=_taker(tuple(names)),
        processors=tuple((i, p) for i, p in enumerate(processors) if p is not None),
    )


def _taker(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A function giving a row's values of these names, as a tuple, with one C call."""
    if len(names) == 1:
        (name,) = names
        return lambda row: (row[name],)
    taken: Callable[[dict[str, Any]], tuple[Any, ...]] = operator.itemgetter(*names)
    return taken


def write(session: Session, statement: Insert | Update, rows: Sequence[dict[str, Any]]) -> None:
    """Run the write statement once for each row (all with the same keys), on the session's
    connection, in its transaction."""
    if not rows:
        return
    connection = session.connection()
    lean = None
    if connection.dialect.driver == "pysqlite":
        lean = compiled(statement, tuple(rows[0]), connection.dialect)
    if lean is None:
        connection.execute(statement, list(rows))
        return
    driver = connection.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    try:
        values = [lean.values(row) for row in rows]
    except Exception as exc:  # a value its column refuses: as SQLAlchemy says it
        raise StatementError(str(exc), lean.sql, None, exc) from exc
    try:
        if len(values) == 1:
            driver.execute(lean.sql, values[0])
        else:
            driver.executemany(lean.sql, values)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(
            lean.sql, values, exc, sqlite3.Error, dialect=connection.dialect
        ) from exc
