"""API keys, ownership and limits on a PostgreSQL store: tests/api/test_auth_api.py and
test_limits_api.py, run here again with the `auth_server` and `key_client` fixtures
overridden (tests/api/pg_live.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rag.service.keys import AuthDecision
from tests.api import test_auth_api, test_limits_api
from tests.api.conftest import AUTH_LIMITS, LiveServer, key_clients
from tests.api.pg_live import pg_live_server, reexport

reexport(globals(), test_auth_api, test_limits_api)


@pytest.fixture(scope="module")
def auth_server(pg_server, tmp_path_factory, embedder) -> Iterator[LiveServer]:
    yield from pg_live_server(pg_server, tmp_path_factory.mktemp("pg-auth"), embedder,
                              auth=AuthDecision(True, "tests"), limits=AUTH_LIMITS)


@pytest.fixture(scope="module")
def key_client(auth_server) -> Iterator:
    """The conftest's key_client, at the scope of this module's auth_server."""
    yield from key_clients(auth_server)
