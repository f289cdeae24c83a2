"""Storage: the SQLite store (collections, documents, chunks, the ops log, jobs), its one
migration sequence, and the data-dir lock that keeps one process per data dir.
"""
