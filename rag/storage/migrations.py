"""Schema migrations, in code: each entry upgrades the schema by one version."""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: collections, documents, chunks, ops log, jobs.
    """
    CREATE TABLE collections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        embedder TEXT NOT NULL,
        dim INTEGER NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE documents (
        pk INTEGER PRIMARY KEY AUTOINCREMENT,
        collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        metadata TEXT NOT NULL DEFAULT '{}',
        text TEXT NOT NULL,
        indexed INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        UNIQUE (collection_id, id)
    );
    CREATE INDEX documents_hash ON documents(collection_id, content_hash);
    -- AUTOINCREMENT: a chunk id is never reused, so the ops log stays unambiguous.
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        document_pk INTEGER NOT NULL REFERENCES documents(pk) ON DELETE CASCADE,
        collection_id INTEGER NOT NULL,
        ordinal INTEGER NOT NULL,
        text TEXT NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL
    );
    CREATE INDEX chunks_document ON chunks(document_pk);
    CREATE TABLE ops (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        collection_id INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('add', 'delete')),
        chunk_ids TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE INDEX ops_collection ON ops(collection_id, seq);
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        collection_id INTEGER,
        status TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    """,
    # 2: jobs carry their request (payload) and outcome (result) as JSON.
    """
    ALTER TABLE jobs ADD COLUMN payload TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE jobs ADD COLUMN result TEXT;
    ALTER TABLE jobs ADD COLUMN stage TEXT NOT NULL DEFAULT ''
    """,
    # 3: API keys (only the SHA-256 of a secret is kept) and who owns what (rag/service/keys.py).
    # A NULL owner: made with auth off, or before v3; with auth on only admin keys see it.
    """
    CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL UNIQUE,
        admin INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        revoked_at REAL
    );
    CREATE UNIQUE INDEX api_keys_active_name ON api_keys(name) WHERE revoked_at IS NULL;
    CREATE INDEX api_keys_prefix ON api_keys(prefix);
    ALTER TABLE collections ADD COLUMN owner_key_id INTEGER;
    ALTER TABLE jobs ADD COLUMN owner_key_id INTEGER;
    CREATE INDEX jobs_owner_status ON jobs(owner_key_id, status);
    CREATE TABLE session_owners (
        session_id TEXT PRIMARY KEY,
        owner_key_id INTEGER NOT NULL
    )
    """,
    # 4: the KG's OpenIE cache (rag/storage/openie_cache.py). IF NOT EXISTS: before v4 the
    # cache created this table itself, so older data dirs may have it already.
    """
    CREATE TABLE IF NOT EXISTS kg_openie_cache (
        text_hash TEXT NOT NULL,
        source TEXT NOT NULL,
        result TEXT NOT NULL,
        PRIMARY KEY (text_hash, source)
    )
    """,
    # 5: the memory floor's tables (rag/storage/memory_rows.py): block memories and session
    # tiers. IF NOT EXISTS: before v5 memory/store.py created them itself, so older data
    # dirs may have them already (same columns).
    """
    CREATE TABLE IF NOT EXISTS memory_memories (
        id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
        encoder TEXT NOT NULL, dim INTEGER NOT NULL, block_tokens INTEGER NOT NULL,
        reps INTEGER NOT NULL, format_version INTEGER NOT NULL, created_at REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS memory_blocks (
        memory_id INTEGER NOT NULL, block_id INTEGER NOT NULL, source TEXT NOT NULL,
        start_char INTEGER NOT NULL, end_char INTEGER NOT NULL, n_tokens INTEGER NOT NULL,
        text TEXT NOT NULL, PRIMARY KEY (memory_id, block_id));
    CREATE TABLE IF NOT EXISTS memory_reps (
        memory_id INTEGER NOT NULL, block_id INTEGER NOT NULL, j INTEGER NOT NULL,
        start_char INTEGER NOT NULL, end_char INTEGER NOT NULL, vector BLOB NOT NULL,
        PRIMARY KEY (memory_id, block_id, j));
    CREATE TABLE IF NOT EXISTS memory_sessions (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS memory_session_meta (
        session_id TEXT PRIMARY KEY, collection TEXT, metadata TEXT NOT NULL DEFAULT '{}');
    CREATE TABLE IF NOT EXISTS memory_messages (
        session_id TEXT NOT NULL, seq INTEGER NOT NULL, role TEXT NOT NULL,
        content TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (session_id, seq));
    CREATE TABLE IF NOT EXISTS memory_core (
        session_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        updated_at REAL NOT NULL, PRIMARY KEY (session_id, key));
    CREATE TABLE IF NOT EXISTS memory_archival (
        session_id TEXT NOT NULL, id INTEGER NOT NULL, text TEXT NOT NULL,
        created_at REAL NOT NULL, PRIMARY KEY (session_id, id))
    """,
]


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's schema version (SQLite's user_version)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations newer than the database's version; returns the new version.

    Raises:
        RuntimeError: when the database is newer than this code.
    """
    current = schema_version(conn)
    if current > len(MIGRATIONS):
        raise RuntimeError(f"database schema v{current} is newer than this ragmem "
                           f"(v{len(MIGRATIONS)}); upgrade ragmem")
    for version in range(current + 1, len(MIGRATIONS) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Statement by statement: executescript() would commit on its own.
            for statement in MIGRATIONS[version - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return len(MIGRATIONS)
