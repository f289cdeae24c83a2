"""A real uvicorn server on a free loopback port, talked to with httpx.

One server (and one RagService reusing the session's MiniLM) serves every API test;
each test works in its own collections, so tests stay independent.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.app import create_app
from rag.service.core import RagService
from rag.service.keys import AuthDecision
from rag.settings import Settings

MAX_UPLOAD_BYTES = 4096
_names = itertools.count()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """uvicorn in a background thread; `stop()` asks it to exit and waits."""

    def __init__(self, settings: Settings, service: RagService, *,
                 auth: AuthDecision | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.service = service
        config = uvicorn.Config(create_app(settings, service=service, auth=auth), host="127.0.0.1",
                                port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def start(self, timeout: float = 120.0) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if not self.thread.is_alive():
                raise RuntimeError("the server thread died during startup")
            time.sleep(0.1)
        raise TimeoutError(f"no /healthz from {self.url} within {timeout}s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)
        assert not self.thread.is_alive(), "the server did not stop"


def api_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, limits={"max_upload_bytes": MAX_UPLOAD_BYTES})


def start_server(data_dir: Path, embedder) -> LiveServer:
    settings = api_settings(data_dir)
    return LiveServer(settings, RagService(settings, embedder=embedder)).start()


@pytest.fixture(scope="session")
def server(tmp_path_factory, embedder) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("api-data"), embedder)
    yield live
    live.stop()


@pytest.fixture(scope="session")
def client(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        yield http


def unique_name(prefix: str = "c") -> str:
    return f"{prefix}-{next(_names)}"


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict:
    """Poll GET /v1/jobs/{id} until it is done or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} still {job['status']} after {timeout}s")


@pytest.fixture
def collection(client) -> str:
    """A fresh, empty collection."""
    name = unique_name()
    assert client.post("/v1/collections", json={"name": name}).status_code == 201
    return name


def upload_json(client: httpx.Client, name: str, documents: list[dict], *, wait: bool = True,
                ) -> dict:
    response = client.post(f"/v1/collections/{name}/documents", json={"documents": documents})
    assert response.status_code == 202, response.text
    body = response.json()
    if wait and body["job_id"]:
        assert wait_for_job(client, body["job_id"])["status"] == "done"
    return body


# -- a second server: auth on, tight limits (test_auth_api.py, test_limits_api.py) ---------
AUTH_LIMITS = {"max_upload_bytes": 4096, "max_upload_request_bytes": 16384,
               "max_body_bytes": 8192, "max_json_depth": 16, "max_concurrent_jobs_per_key": 2}


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory, embedder) -> Iterator[LiveServer]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("auth-data"), limits=AUTH_LIMITS)
    live = LiveServer(settings, RagService(settings, embedder=embedder),
                      auth=AuthDecision(True, "tests")).start()
    yield live
    live.stop()


def key_clients(server: LiveServer) -> Iterator:
    """Yields `make(name, admin=False)`: a new API key on `server` and an httpx client that
    sends it; closes the clients after (the body of every `key_client` fixture)."""
    from rag.service import keys

    made: list[httpx.Client] = []

    def make(name: str, *, admin: bool = False) -> httpx.Client:
        record, secret = keys.create_key(server.service.store, unique_name(name), admin=admin)
        http = httpx.Client(base_url=server.url, timeout=60,
                            headers={"Authorization": f"Bearer {secret}"})
        http.key, http.secret = record, secret
        made.append(http)
        return http

    yield make
    for http in made:
        http.close()


@pytest.fixture(scope="session")
def key_client(auth_server) -> Iterator:
    """`key_client(name, admin=False)`: a new API key and an httpx client that sends it."""
    yield from key_clients(auth_server)
