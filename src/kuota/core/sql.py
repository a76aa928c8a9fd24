"""`in_list`: a column IN a list bound as one value, for statements run often with lists
of changing length.

SQLAlchemy's expanding IN renders a statement for every list length it meets (and
renders the list's parameters on every execution); on the hot path that costs more
than the query. `in_list(column, name)` is compiled once, whatever the list's length:
SQLite reads a JSON array with `json_each` (and still searches the column's index for
each value), PostgreSQL takes an array, `column = ANY(CAST(:name AS BIGINT[]))`
(or `TEXT[]`). Pass the values as a list (of int or str, as the column holds).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Boolean, Integer, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import NullType, TypeDecorator


class _Values(TypeDecorator[list[Any]]):
    """A list as one parameter: JSON text for SQLite, the list itself (an array) for
    PostgreSQL."""

    impl = NullType  # no bind cast: the SQL says what the value is
    cache_ok = True

    def process_bind_param(self, value: list[Any] | None, dialect: Any) -> Any:
        if value is None:
            raise ValueError("in_list needs a list, not None")
        if dialect.name == "sqlite":
            return orjson.dumps(list(value)).decode()
        return list(value)


class InList(ColumnElement[bool]):
    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition as it is: no "= 1" added on SQLite
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.values: BindParameter[list[Any]] = bindparam(name, type_=_Values())


def in_list(column: Any, name: str) -> InList:
    """`column IN (:name)` for a list bound as one value (see the module)."""
    return InList(column, name)


@compiles(InList, "sqlite")
def _in_json_array(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    values = compiler.process(element.values, **kw)
    return f"{column} IN (SELECT value FROM json_each({values}))"


@compiles(InList, "postgresql")
def _any_of_array(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    values = compiler.process(element.values, **kw)
    array = "BIGINT[]" if isinstance(element.column.type, Integer) else "TEXT[]"
    return f"{column} = ANY(CAST({values} AS {array}))"
