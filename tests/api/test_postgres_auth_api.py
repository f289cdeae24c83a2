"""API keys, ownership and limits on a PostgreSQL store: tests/api/test_auth_api.py and
test_limits_api.py, run here again with the `auth_server` and `key_client` fixtures
overridden (tests/api/pg_live.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from rag.service import keys
from rag.service.keys import AuthDecision
from tests.api import test_auth_api, test_limits_api
from tests.api.conftest import AUTH_LIMITS, LiveServer, unique_name
from tests.api.pg_live import pg_live_server, reexport

reexport(globals(), test_auth_api, test_limits_api)


@pytest.fixture(scope="module")
def auth_server(pg_server, tmp_path_factory, embedder) -> Iterator[LiveServer]:
    yield from pg_live_server(pg_server, tmp_path_factory.mktemp("pg-auth"), embedder,
                              auth=AuthDecision(True, "tests"), limits=AUTH_LIMITS)


@pytest.fixture(scope="module")
def key_client(auth_server) -> Iterator:
    made: list[httpx.Client] = []

    def make(name: str, *, admin: bool = False) -> httpx.Client:
        record, secret = keys.create_key(auth_server.service.store, unique_name(name), admin=admin)
        http = httpx.Client(base_url=auth_server.url, timeout=60,
                            headers={"Authorization": f"Bearer {secret}"})
        http.key, http.secret = record, secret
        made.append(http)
        return http

    yield make
    for http in made:
        http.close()
