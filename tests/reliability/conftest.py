"""Fixtures of the reliability tests: the fork server for subprocess `ragmem serve`s, and
tests/api's in-process server for the bad-input table."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import client, collection, server  # noqa: F401 - shared with tests/api
from tests.reliability.server import ForkServer


@pytest.fixture(scope="session")
def forks(tmp_path_factory) -> Iterator[ForkServer | None]:
    """Servers are forked from one warm interpreter (RAGMEM_RELIABILITY_SPAWN=fork, the
    default) or each started as a fresh `ragmem serve` (=exec: slower, the same code)."""
    if os.environ.get("RAGMEM_RELIABILITY_SPAWN", "fork") == "exec":
        yield None
        return
    helper = ForkServer(Path(tmp_path_factory.mktemp("forks")))
    yield helper
    helper.close()
