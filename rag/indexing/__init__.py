"""Indexing: the index manager that keeps a collection's indexes (dense, bm25, kg) in step
with the store by replaying its ops log, the immutable segments and manifest it writes,
background merges, and the upgrade from the previous whole-generation format.
"""
