"""Storage: the SQLite store (collections, documents, chunks, the ops log, jobs), its one
migration sequence (every table, the memory floor's and the KG cache's too), the rows the
lower floors persist through Protocols (`memory_rows.py` for `memory/`, `openie_cache.py`
for `indexes/kg`), API-key rows, and the data-dir lock that keeps one process per data dir.
No SQL runs outside this package.
"""
