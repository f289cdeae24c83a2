"""16 clients at once against one real `ragmem serve`: uploads (JSON and multipart, to
their own collection and to a shared one), retrieves and asks. Every response is a 2xx,
and every acknowledged document is stored, indexed and found once the jobs finish."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.reliability.server import ServerProcess, list_documents, wait_for_jobs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENTS = 16
ROUNDS = 4
SHARED = "shared"


def client_work(url: str, n: int, barrier: threading.Barrier, acked: dict, errors: list) -> None:
    """Client n: its own collection (even n) or the shared one (odd n)."""
    own = SHARED if n % 2 else f"own-{n}"
    with httpx.Client(base_url=url, timeout=300) as http:
        def check(response: httpx.Response, what: str) -> httpx.Response:
            if not 200 <= response.status_code < 300:
                errors.append(f"client {n} {what}: {response.status_code} {response.text[:200]}")
            return response

        if own != SHARED:
            check(http.post("/v1/collections", json={"name": own}), "create")
        barrier.wait(120)
        for r in range(ROUNDS):
            docs = [{"id": f"c{n}-r{r}-{i}", "text": f"Client {n} round {r} item {i} "
                     f"marker c{n}r{r}i{i}z about lighthouses and tides."} for i in range(2)]
            if r % 2:
                body = check(http.post(f"/v1/collections/{own}/documents", json={"documents": docs}),
                             "upload json").json()
            else:
                files = [("files", (f"{d['id']}.txt", d["text"].encode(), "text/plain")) for d in docs]
                body = check(http.post(f"/v1/collections/{own}/documents", files=files),
                             "upload files").json()
            for doc, result in zip(docs, body.get("documents", []), strict=False):
                acked[(own, result["id"])] = (body["job_id"], f"c{n}r{r}i{docs.index(doc)}z")
            check(http.post(f"/v1/collections/{own}/retrieve",
                            json={"query": f"client {n} lighthouses", "top_k": 3}), "retrieve")
            check(http.post(f"/v1/collections/{own}/ask",
                            json={"question": f"What does client {n} say about tides?"}), "ask")
            check(http.get(f"/v1/collections/{own}/documents"), "list")


def test_sixteen_clients_upload_and_query(tmp_path, forks) -> None:
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log", forks=forks).start()
    try:
        with httpx.Client(base_url=server.url, timeout=300) as http:
            assert http.post("/v1/collections", json={"name": SHARED}).status_code == 201
            acked: dict[tuple[str, str], tuple[str, str]] = {}
            errors: list[str] = []
            barrier = threading.Barrier(CLIENTS)
            threads = [threading.Thread(target=client_work, args=(server.url, n, barrier, acked,
                                                                  errors)) for n in range(CLIENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(600)
            assert not any(t.is_alive() for t in threads)
            assert not errors, errors[:5]
            assert len(acked) == CLIENTS * ROUNDS * 2
            jobs = wait_for_jobs(http, {job for job, _ in acked.values()}, timeout=600)
            assert {j["status"] for j in jobs.values()} == {"done"}
            by_collection: dict[str, dict] = {}
            for (name, doc_id), (_, token) in sorted(acked.items()):
                if name not in by_collection:
                    by_collection[name] = list_documents(http, name)
                assert by_collection[name][doc_id]["status"] == "indexed", doc_id
                hits = http.post(f"/v1/collections/{name}/retrieve",
                                 json={"query": token, "retriever": "bm25", "top_k": 1}).json()
                assert [h["document_id"] for h in hits["results"]] == [doc_id]
            assert len(by_collection[SHARED]) == CLIENTS // 2 * ROUNDS * 2
    finally:
        server.stop()
