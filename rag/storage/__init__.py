"""Storage: the store (collections, documents, chunks, the ops log, jobs) on SQLite or
PostgreSQL (backend.py picks; sqlite_backend.py, pg_backend.py, dialect.py; copy.py moves
a store between them), its one migration sequence (every table, the memory floor's and
the KG cache's too; pg_migrations.py the same versions for PostgreSQL), the rows the
lower floors persist through Protocols (`memory_rows.py` for `memory/`, `openie_cache.py`
for `indexes/kg`), API-key rows, and the data-dir lock that keeps one process per data dir.
No SQL runs outside this package.
"""
