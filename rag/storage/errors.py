"""The store's constraint error on both backends (a caller maps it to its own message)."""

from __future__ import annotations

import sqlite3

from rag.errors import ConflictError


class IntegrityConflict(ConflictError):
    """A write broke a UNIQUE/PRIMARY KEY/FOREIGN KEY constraint on PostgreSQL (SQLite's
    driver raises sqlite3.IntegrityError)."""


INTEGRITY_ERRORS = (sqlite3.IntegrityError, IntegrityConflict)
