"""Indexing: the index manager that keeps a collection's indexes (dense, bm25, kg) in step
with the store by replaying its ops log, and the on-disk index generations it writes.
"""
