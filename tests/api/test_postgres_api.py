"""Documents (upload, jobs, retrieve, ask, delete) and sessions through the real server
on a PostgreSQL store: tests/api/test_documents_api.py and test_sessions_api.py, run
here again with the `server` and `client` fixtures overridden (tests/api/pg_live.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api import test_documents_api, test_sessions_api
from tests.api.conftest import MAX_UPLOAD_BYTES, LiveServer
from tests.api.pg_live import pg_live_server, reexport

reexport(globals(), test_documents_api, test_sessions_api)


@pytest.fixture(scope="module")
def server(pg_server, tmp_path_factory, embedder) -> Iterator[LiveServer]:
    yield from pg_live_server(pg_server, tmp_path_factory.mktemp("pg-api"), embedder,
                              limits={"max_upload_bytes": MAX_UPLOAD_BYTES})


@pytest.fixture(scope="module")
def client(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        yield http
