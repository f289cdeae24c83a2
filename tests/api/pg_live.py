"""The API tests again, on a PostgreSQL store: the same test functions, run by a module
that overrides the server fixtures with servers whose settings come from
RAGMEM_STORE__URL (a fresh database of the throwaway PostgreSQL, tests/pg_server.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from rag.service.core import RagService
from rag.service.keys import AuthDecision
from rag.settings import Settings
from tests.api.conftest import LiveServer


def reexport(namespace: dict[str, Any], *modules: ModuleType) -> None:
    """Copy the tests and module fixtures of `modules` into a test module's namespace."""
    for module in modules:
        for name, value in vars(module).items():
            if not name.startswith("_") and name not in namespace:
                namespace[name] = value


def pg_settings(url: str, data_dir: Path, **fields: Any) -> Settings:
    """Settings read with RAGMEM_STORE__URL=url in the environment (as a user sets it)."""
    previous = os.environ.get("RAGMEM_STORE__URL")
    os.environ["RAGMEM_STORE__URL"] = url
    try:
        settings = Settings(data_dir=data_dir, **fields)
    finally:
        if previous is None:
            os.environ.pop("RAGMEM_STORE__URL", None)
        else:
            os.environ["RAGMEM_STORE__URL"] = previous
    assert settings.store.url == url
    return settings


def pg_live_server(pg_server, data_dir: Path, embedder, *, auth: AuthDecision | None = None,
                   **fields: Any) -> Iterator[LiveServer]:
    url = pg_server.create_database("api")
    settings = pg_settings(url, data_dir, **fields)
    service = RagService(settings, embedder=embedder)
    assert service.store.backend.name == "postgresql"
    live = LiveServer(settings, service, auth=auth).start()
    yield live
    live.stop()
    pg_server.drop_database(url)

