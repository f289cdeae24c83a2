"""SQLite SQL -> PostgreSQL SQL: the one place where the two dialects differ at run time.

The store and its row modules write SQLite's SQL (`?` parameters, INSERT OR IGNORE /
OR REPLACE); `to_postgres` rewrites a statement once (cached) for psycopg. Pure.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Tables whose key is generated (an identity column): an INSERT returns it, as
# sqlite3's cursor.lastrowid does.
GENERATED_KEYS = {"collections": "id", "documents": "pk", "chunks": "id", "ops": "seq",
                  "api_keys": "id", "memory_memories": "id"}
# INSERT OR REPLACE needs the conflict target and the columns in PostgreSQL.
REPLACE_KEYS = {"session_owners": ("session_id",), "memory_core": ("session_id", "key"),
                "kg_openie_cache": ("text_hash", "source")}
TABLE_COLUMNS = {"session_owners": ("session_id", "owner_key_id"),
                 "memory_core": ("session_id", "key", "value", "updated_at"),
                 "kg_openie_cache": ("text_hash", "source", "result")}

_INSERT = re.compile(r"^\s*INSERT\s+(?:OR\s+(IGNORE|REPLACE)\s+)?INTO\s+(\w+)\s*(\(([^)]*)\))?",
                     re.I | re.S)


def _placeholders(sql: str) -> str:
    """`?` -> `%s` outside string literals; a literal `%` doubled (psycopg's escape)."""
    out, quoted = [], False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == "%":
            out.append("%%")
        elif ch == "?" and not quoted:
            out.append("%s")
        else:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=1024)
def to_postgres(sql: str, *, returning: bool = True) -> tuple[str, str | None]:
    """A statement in PostgreSQL's dialect, and the generated key it returns (or None).

    Args:
        returning: append `RETURNING <key>` to an INSERT into a table with a generated
            key (off for executemany, which discards results).

    Raises:
        ValueError: for INSERT OR REPLACE into a table whose key is not known here.
    """
    match = _INSERT.match(sql)
    if match is None:
        return _placeholders(sql), None
    verb, table = (match.group(1) or "").upper(), match.group(2)
    body = "INSERT INTO " + sql[match.start(2):]
    suffix = ""
    if verb == "IGNORE":
        suffix = " ON CONFLICT DO NOTHING"
    elif verb == "REPLACE":
        if table not in REPLACE_KEYS:
            raise ValueError(f"INSERT OR REPLACE INTO {table}: its conflict key is not in "
                             "rag/storage/dialect.py REPLACE_KEYS")
        keys = REPLACE_KEYS[table]
        columns = ([c.strip() for c in match.group(4).split(",")] if match.group(3)
                   else list(TABLE_COLUMNS[table]))
        sets = ", ".join(f"{c}=EXCLUDED.{c}" for c in columns if c not in keys)
        suffix = f" ON CONFLICT ({', '.join(keys)}) DO " + (f"UPDATE SET {sets}" if sets else "NOTHING")
    key = GENERATED_KEYS.get(table) if returning else None
    if key:
        suffix += f" RETURNING {key}"
    return _placeholders(body.rstrip().rstrip(";") + suffix), key
