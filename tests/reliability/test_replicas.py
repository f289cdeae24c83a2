"""Two `ragmem serve` replicas over one PostgreSQL and one index dir (issue 14).

- A document uploaded to replica A is returned by `retrieve` on replica B, no restart.
- 16 clients spread over both replicas upload, delete and ask; the replica that indexes
  the collection (read from PostgreSQL's pg_locks) is killed with SIGKILL mid-ingest and
  started again; its clients fail over to the other replica meanwhile. Then: no
  acknowledged (202) document is lost, no acknowledged (204) delete comes back, every
  acknowledged document is the top BM25 hit for its token on both replicas within 10 s
  of the end, and the survivor took over indexing.

Loopback only; the PostgreSQL is the throwaway one of tests/pg_server.py.
"""

from __future__ import annotations

import random
import threading
import time

import httpx
import pytest

from rag.storage.lock import indexer_pid
from tests.reliability.server import ServerProcess, list_documents

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COLLECTION = "kb"
CLIENTS = 16
WORDS = "harbor lantern granite orchard meadow falcon copper river glacier thunder".split()


def replicas(tmp_path, forks, pg_url, n: int = 2) -> list[ServerProcess]:
    env = {"RAGMEM_STORE__URL": pg_url}
    data_dir = tmp_path / "data"  # one index dir for all replicas
    return [ServerProcess(data_dir, tmp_path / f"replica-{i}.log", forks=forks, env=env)
            for i in range(n)]


def start_all(servers: list[ServerProcess]) -> None:
    for server in servers:
        server.start()


def restart(server: ServerProcess, log) -> ServerProcess:
    """The killed replica again, on its port (its clients come back to it)."""
    again = ServerProcess(server.data_dir, log, forks=server.forks, env=server.env)
    again.port, again.url = server.port, server.url
    return again.start()


def found(url: str, doc_ids: list[str]) -> set[str]:
    """Which of `doc_ids` bm25 returns for their tokens (50 per query)."""
    seen: set[str] = set()
    for start in range(0, len(doc_ids), 50):
        batch = doc_ids[start:start + 50]
        seen |= set(top_ids(url, " ".join(token(d) for d in batch), len(batch))) & set(batch)
    return seen


def top_ids(url: str, query: str, k: int = 1) -> list[str]:
    response = httpx.post(f"{url}/v1/collections/{COLLECTION}/retrieve",
                          json={"query": query, "retriever": "bm25", "top_k": k}, timeout=30)
    assert response.status_code == 200, response.text
    return [r["document_id"] for r in response.json()["results"]]


def eventually(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout}s"
        time.sleep(0.1)
    return time.monotonic() - started


def collection_id(pg_url: str) -> int:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        return int(conn.execute("SELECT id FROM collections WHERE name = %s",
                                (COLLECTION,)).fetchone()[0])


def who_indexes(pg_url: str, cid: int) -> int | None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        return indexer_pid(conn, cid)


def test_an_upload_to_a_is_retrieved_on_b_without_a_restart(tmp_path, forks, pg_url) -> None:
    a, b = replicas(tmp_path, forks, pg_url)
    try:
        start_all([a, b])
        assert httpx.post(f"{a.url}/v1/collections", json={"name": COLLECTION}).status_code == 201
        assert top_ids(b.url, "anything") == []  # B knows the collection, empty
        for source, target, n in ((a, b, 1), (b, a, 2)):
            doc = {"id": f"d{n}", "text": f"The token solo{n}word is only here. " * 3}
            response = httpx.post(f"{source.url}/v1/collections/{COLLECTION}/documents",
                                  json={"documents": [doc]})
            assert response.status_code == 202, response.text
            eventually(lambda n=n, t=target: top_ids(t.url, f"solo{n}word") == [f"d{n}"], 10,
                       f"d{n} on the other replica")
        assert who_indexes(pg_url, collection_id(pg_url)) in (a.pid, b.pid)
    finally:
        for server in (a, b):
            server.kill()


class Ledger:
    """What clients sent and what the replicas acknowledged (shared by the clients)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: set[str] = set()
        self.deleted: set[str] = set()
        self.unsure: set[str] = set()  # a delete cut off by the kill: either outcome is right
        self.asks = 0
        self.errors: list[str] = []

    def live(self) -> set[str]:
        with self.lock:
            return self.acked - self.deleted - self.unsure


def token(doc_id: str) -> str:
    return f"tok{doc_id.replace('-', 'x')}q"


class Client(threading.Thread):
    """Uploads (mostly), deletes and asks against its replica; fails over to the other
    replica when its own does not answer (a load balancer's job)."""

    def __init__(self, n: int, urls: list[str], ledger: Ledger, stop: threading.Event) -> None:
        super().__init__(name=f"client-{n}", daemon=True)
        self.n, self.urls, self.ledger, self.stop = n, urls, ledger, stop
        self.rng = random.Random(n)

    def url(self, attempt: int) -> str:
        return self.urls[(self.n + attempt) % len(self.urls)]

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            roll = self.rng.random()
            live = sorted(self.ledger.live())
            for attempt in range(len(self.urls)):
                try:
                    if roll < 0.1 and live:
                        self.delete(self.url(attempt), self.rng.choice(live))
                    elif roll < 0.2:
                        self.ask(self.url(attempt))
                    else:
                        self.upload(self.url(attempt), f"c{self.n}-{i}")
                        i += 1
                    break
                except httpx.TransportError:
                    continue  # this replica is down: the next one
            time.sleep(0.05)

    def upload(self, url: str, doc_id: str) -> None:
        body = " ".join(self.rng.choice(WORDS) for _ in range(20))
        doc = {"id": doc_id, "title": doc_id, "text": f"Record {token(doc_id)}. {body}."}
        response = httpx.post(f"{url}/v1/collections/{COLLECTION}/documents",
                              json={"documents": [doc]}, timeout=30)
        if response.status_code != 202:
            self.ledger.errors.append(f"upload {response.status_code} {response.text[:200]}")
            return
        with self.ledger.lock:
            self.ledger.acked.add(doc_id)

    def delete(self, url: str, doc_id: str) -> None:
        try:
            response = httpx.delete(f"{url}/v1/collections/{COLLECTION}/documents/{doc_id}",
                                    timeout=30)
        except httpx.TransportError:
            with self.ledger.lock:
                self.ledger.unsure.add(doc_id)
            raise
        if response.status_code == 204:
            with self.ledger.lock:
                self.ledger.deleted.add(doc_id)
        elif response.status_code != 404:  # 404: another client deleted it first
            self.ledger.errors.append(f"delete {response.status_code} {response.text[:200]}")

    def ask(self, url: str) -> None:
        response = httpx.post(f"{url}/v1/collections/{COLLECTION}/ask",
                              json={"question": f"Which record mentions {self.rng.choice(WORDS)}?",
                                    "retriever": "bm25"}, timeout=60)
        if response.status_code != 200:
            self.ledger.errors.append(f"ask {response.status_code} {response.text[:200]}")
        with self.ledger.lock:
            self.ledger.asks += 1


def test_killing_the_indexer_mid_ingest_loses_nothing(tmp_path, forks, pg_url) -> None:
    started = time.monotonic()
    servers = replicas(tmp_path, forks, pg_url)
    ledger, stop = Ledger(), threading.Event()
    try:
        start_all(servers)
        assert httpx.post(f"{servers[0].url}/v1/collections",
                          json={"name": COLLECTION}).status_code == 201
        cid = collection_id(pg_url)
        for server in servers:  # both load the collection; one of them takes its lease
            top_ids(server.url, "warm")
        eventually(lambda: who_indexes(pg_url, cid) is not None, 10, "an indexer elected")
        indexer = next(s for s in servers if s.pid == who_indexes(pg_url, cid))
        survivor = next(s for s in servers if s is not indexer)
        clients = [Client(n, [s.url for s in servers], ledger, stop) for n in range(CLIENTS)]
        for client in clients:
            client.start()
        eventually(lambda: len(ledger.acked) >= 20, 30, "20 acknowledged uploads")
        time.sleep(1.0)
        indexer.kill()  # mid-ingest: uploads go on on the survivor
        killed_at = len(ledger.acked)
        took_over = eventually(lambda: who_indexes(pg_url, cid) == survivor.pid, 15,
                               "the survivor took over indexing")
        servers[servers.index(indexer)] = restart(indexer, tmp_path / "restarted.log")
        eventually(lambda: len(ledger.acked) >= killed_at + 20, 30, "uploads after the restart")
        stop.set()
        for client in clients:
            client.join(60)
        ended = time.monotonic()
        assert not ledger.errors, ledger.errors[:5]
        live, deleted = ledger.live(), set(ledger.deleted)
        stored = list_documents(httpx.Client(base_url=survivor.url, timeout=60), COLLECTION)
        lost = sorted(live - set(stored))
        assert not lost, f"{len(lost)} acknowledged documents lost: {lost[:10]}"
        back = sorted(deleted & set(stored))
        assert not back, f"deleted documents back: {back[:10]}"

        def all_searchable() -> bool:
            return all(found(server.url, sorted(live)) == live for server in servers)

        eventually(all_searchable, 10 - (time.monotonic() - ended), "every document on both")
        for server in servers:
            assert not found(server.url, sorted(deleted)), "a deleted document retrieved"
        assert who_indexes(pg_url, cid) == survivor.pid  # it kept the collection
        print(f"\nreplicas: {len(ledger.acked)} acknowledged ({killed_at} before the kill), "
              f"{len(deleted)} deleted, {ledger.asks} asks, takeover {took_over:.1f}s, "
              f"{time.monotonic() - started:.0f}s in all")
    finally:
        stop.set()
        for server in servers:
            server.kill()
