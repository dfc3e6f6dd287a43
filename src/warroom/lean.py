"""Statements run straight on SQLite's driver: the hot paths of ingesting (new alerts,
timeline entries, phases, tasks, jobs, deliveries) write with a few Core statements each,
and read with a few more (integrations, firing alerts, silences), and on SQLite
SQLAlchemy's work around each execution (an execution context, events, the cache lookup, a
result) costs several times what SQLite takes to run it.

``write`` compiles a statement once for each set of parameter names (SQLAlchemy's compiler,
with the same bind processors SQLAlchemy applies: UTC datetimes, JSON), then hands the
driver the SQL and the processed values. It runs on the session's own connection, in its
transaction. Errors come wrapped as SQLAlchemy's (``IntegrityError``...), as from
``Connection.execute``. Elsewhere (PostgreSQL), and for statements whose columns have
defaults SQLAlchemy computes in Python, it is ``Connection.execute``.

``rows`` and ``scalar`` do the same for a SELECT: the values of its own (a ``LIMIT``, a
constant compared with) bound as SQLAlchemy binds them, and each column's value processed as
SQLAlchemy processes it (UTC datetimes, JSON). Like ``Connection.execute``, they do not
flush the session's pending ORM changes first. A list of values goes in as one JSON array
bound to one parameter (``each``, ``listed``: SQLite's ``json_each``), so that the SQL text
stays the same whatever its length.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.engine import Connection, Dialect
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


Key = tuple[int, int, tuple[str, ...]]  # the statement's id, the dialect's, parameter names
T = TypeVar("T")
S = TypeVar("S")
V = TypeVar("V", bound=Sequence[Any])  # the values bound: one row's, or many rows'
R = TypeVar("R")
_COMPILED: dict[Key, tuple[object, Compiled | None]] = {}


def _kept(
    cache: dict[Key, tuple[object, T | None]],
    make: Callable[[S, tuple[str, ...], Dialect], T | None],
    statement: S,
    keys: tuple[str, ...],
    dialect: Dialect,
) -> T | None:
    """What ``make`` gives for the statement, made once (statements are built once, at
    import) and kept with the statement and the dialect, so that their ids stay theirs."""
    cache_key = (id(statement), id(dialect), keys)
    known = cache.get(cache_key)
    if known is not None:
        return known[1]
    result = make(statement, keys, dialect)
    cache[cache_key] = ((statement, dialect), result)
    return result


def compiled(
    statement: Insert | Update, keys: tuple[str, ...], dialect: Dialect
) -> Compiled | None:
    """The statement compiled for SQLite with these parameter names; None when SQLAlchemy
    would add values of its own (a column default computed in Python) or bind other
    parameters than those given."""
    return _kept(_COMPILED, _compile, statement, keys, dialect)


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
    compiled_ = lean

    def run(driver: sqlite3.Connection, values: list[list[Any]]) -> None:
        if len(values) == 1:
            driver.execute(compiled_.sql, values[0])
        else:
            driver.executemany(compiled_.sql, values)

    _on_driver(connection, lean.sql, lambda: [compiled_.values(row) for row in rows], run)


def _on_driver(
    connection: Connection,
    sql: str,
    values_of: Callable[[], V],
    run: Callable[[sqlite3.Connection, V], R],
) -> R:
    """``run`` on the connection's sqlite3 connection with the values ``values_of`` gives;
    a value its column refuses, or SQLite's error, raised as SQLAlchemy raises them."""
    driver = connection.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    try:
        values = values_of()
    except Exception as exc:  # a value its column refuses: as SQLAlchemy says it
        raise StatementError(str(exc), sql, None, exc) from exc
    try:
        return run(driver, values)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(
            sql, values, exc, sqlite3.Error, dialect=connection.dialect
        ) from exc


@dataclass(frozen=True)
class Query:
    """A SELECT as the driver takes it: its SQL, its parameters' names in order (with the
    statement's own values for those the caller does not give), their bind processors, and
    each column's result processor."""

    sql: str
    names: tuple[str, ...]
    own: dict[str, Any]
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]
    results: tuple[tuple[int, Callable[[Any], Any]], ...]

    def values(self, params: dict[str, Any]) -> list[Any]:
        own = self.own
        values = [params[name] if name in params else own[name] for name in self.names]
        for position, process in self.processors:
            values[position] = process(values[position])
        return values

    def row(self, fetched: tuple[Any, ...]) -> tuple[Any, ...]:
        if not self.results:
            return fetched
        values = list(fetched)
        for index, process in self.results:
            values[index] = process(values[index])
        return tuple(values)


_QUERIES: dict[Key, tuple[object, Query | None]] = {}


def query(statement: Select[Any], keys: tuple[str, ...], dialect: Dialect) -> Query | None:
    """The SELECT compiled for SQLite with these parameter names; None when SQLAlchemy would
    render parameters at execution (an expanding list, a literal executed as such) or
    needs a value not given."""
    return _kept(_QUERIES, _query, statement, keys, dialect)


def _query(statement: Select[Any], keys: tuple[str, ...], dialect: Dialect) -> Query | None:
    compiler = statement.compile(dialect=dialect)
    assert isinstance(compiler, SQLCompiler)
    if compiler.literal_execute_params or compiler.post_compile_params:
        return None
    names = tuple(compiler.positiontup or ())
    own: dict[str, Any] = {}
    for name in set(names) - set(keys):
        bind = compiler.binds[name]
        if bind.required or bind.callable is not None:
            return None
        own[name] = bind.value
    processors = [
        compiler.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    results = [
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in statement.selected_columns
    ]
    return Query(
        sql=compiler.string,
        names=names,
        own=own,
        processors=tuple((i, p) for i, p in enumerate(processors) if p is not None),
        results=tuple((i, p) for i, p in enumerate(results) if p is not None),
    )


def rows(session: Session, statement: Select[Any], params: dict[str, Any]) -> Sequence[Any]:
    """The rows of the SELECT, as tuples, on the session's connection, in its transaction."""
    connection = session.connection()
    lean = None
    if connection.dialect.driver == "pysqlite":
        lean = query(statement, tuple(params), connection.dialect)
    if lean is None:
        return connection.execute(statement, params).all()
    query_ = lean
    fetched = _on_driver(
        connection,
        lean.sql,
        lambda: query_.values(params),
        lambda driver, values: driver.execute(query_.sql, values).fetchall(),
    )
    return [lean.row(row) for row in fetched]


def sqlite(session: Session) -> bool:
    """Whether the session's database is SQLite: where ``each`` and ``listed`` work."""
    return session.get_bind().dialect.name == "sqlite"


def scalar(session: Session, statement: Select[Any], params: dict[str, Any]) -> Any:
    """The first column of the SELECT's first row; None when it has none."""
    found = rows(session, statement, params)
    return found[0][0] if found else None


def each(name: str) -> Select[Any]:
    """The values of a JSON array bound to ``name`` (see ``listed``), for ``column.in_``:
    one parameter whatever the list's length. SQLite only (``json_each``)."""
    return select(func.json_each(bindparam(name)).table_valued("value").c.value)


def listed(values: Sequence[Any]) -> str:
    """Values bound for ``each`` (ids, fingerprints: what JSON holds as it is)."""
    return orjson.dumps(list(values)).decode()
