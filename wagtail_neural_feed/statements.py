"""Running our own SQL on the read database: bound server-side, prepared, lean.

Django inlines parameters into the SQL text and plans every query anew. The
ranking statements are long and run on every list, so here they

* bind their parameters server-side and, with ``PREPARED_STATEMENTS`` (the
  default), are prepared once per connection (psycopg keeps the 100 most
  recent), which saves planning a long statement on every list;
* are written once into PostgreSQL's own ``$n`` placeholders (cached per
  statement text), so psycopg does not scan ten kilobytes of SQL for
  ``%(name)s`` on every execution;
* send the query vector in pgvector's binary form, and may ask for binary
  results, which spares formatting and parsing 384 floats as text each way.

Django's own queries are unaffected: its client-side cursors never prepare,
and nothing is registered on the connection, only on these cursors.
"""

from __future__ import annotations

import functools
import re
import struct
import time
from collections.abc import Mapping, Sequence

import numpy as np
import psycopg
from django.db import connections
from psycopg.adapt import Dumper
from psycopg.pq import Format

from . import replicas
from .conf import neural_feed_settings

#: psycopg prepares a statement on its own after this many runs; Django turns
#: that off (``None``). We ask for preparation explicitly instead, so the
#: threshold only has to be a number nothing else will reach.
_EXPLICIT_PREPARATION_ONLY = 2**31 - 1

_PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]+)\)s|(?P<positional>s)|(?P<percent>%))")


class QueryVector:
    """A vector parameter, sent to PostgreSQL in pgvector's binary form."""

    __slots__ = ("values",)

    def __init__(self, values: np.ndarray) -> None:
        self.values = np.asarray(values, dtype=np.float32)


class _QueryVectorDumper(Dumper):
    # pgvector's binary input: dimensions (int16), an unused int16, then the
    # values as big-endian float4. The oid stays unknown: every use is
    # written ``$n::vector``, which tells the server the type.
    format = Format.BINARY

    def dump(self, obj: QueryVector) -> bytes:
        values = obj.values
        return struct.pack(">HH", len(values), 0) + values.astype(">f4").tobytes()


def read_alias() -> str:
    """The database alias ranking reads from (``READ_DATABASE``, e.g. a replica, or
    the primary while the replica is behind the reader or failing: see replicas.py)."""
    return replicas.current_alias()


def table_name(model) -> str:
    """A model's table, quoted for the read database."""
    return connections[read_alias()].ops.quote_name(model._meta.db_table)


def column_name(model, field_name: str) -> str:
    """A field's column, quoted for the read database."""
    return connections[read_alias()].ops.quote_name(model._meta.get_field(field_name).column)


def parse_vector(value) -> np.ndarray | None:
    """A vector column as a float32 array, from its binary or text form."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return np.frombuffer(value, dtype=">f4", offset=4).astype(np.float32)
    if isinstance(value, str):
        return np.array(value[1:-1].split(","), dtype=np.float32)
    return np.asarray(value, dtype=np.float32)


@functools.lru_cache(maxsize=256)
def native_placeholders(sql: str, named: bool) -> tuple[str, tuple[str, ...]]:
    """``sql`` with ``%(name)s`` / ``%s`` written as ``$n`` and ``%%`` as ``%``.

    Returns the new text and, for named parameters, their names in ``$n`` order.
    """
    names: list[str] = []
    positional = 0

    def replace(match: re.Match) -> str:
        nonlocal positional
        if match["percent"]:
            return "%"
        if named != (match["name"] is not None):
            raise ValueError("A statement must use only %(name)s or only %s placeholders.")
        if match["name"] is not None:
            if match["name"] not in names:
                names.append(match["name"])
            return f"${names.index(match['name']) + 1}"
        positional += 1
        return f"${positional}"

    return _PLACEHOLDER.sub(replace, sql), tuple(names)


def run_statement(
    sql: str,
    params: Mapping | Sequence = (),
    *,
    many: bool = True,
    prepare: bool = True,
    binary: bool = False,
) -> list[tuple]:
    """Run ``sql`` (psycopg's ``%(name)s`` or ``%s`` style) on the read database.

    ``binary`` asks for results in binary form: vector columns then arrive as
    bytes (see :func:`parse_vector`). Leave it off for rows Django turns into
    model instances: its loaders for some types (jsonb) are text-only.
    The query runs inside Django's error wrapping and is logged the way
    Django logs queries (``connection.queries``, ``assertNumQueries``).
    """
    connection = connections[read_alias()]
    connection.ensure_connection()
    prepare = prepare and bool(neural_feed_settings.PREPARED_STATEMENTS)
    raw = connection.connection
    if prepare and raw.prepare_threshold is None:
        raw.prepare_threshold = _EXPLICIT_PREPARATION_ONLY
    named = isinstance(params, Mapping)
    native, names = native_placeholders(sql, named)
    values = [params[name] for name in names] if named else list(params)
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.RawCursor(raw) as cursor:
        cursor.adapters.register_dumper(QueryVector, _QueryVectorDumper)
        cursor.execute(native, values, prepare=prepare or None, binary=binary)
        rows = cursor.fetchall() if many else [cursor.fetchone()]
    if connection.queries_logged:
        connection.queries_log.append(
            {"sql": sql, "time": f"{time.monotonic() - started:.6f}", "params": params}
        )
    return rows
