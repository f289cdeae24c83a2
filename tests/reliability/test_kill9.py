"""kill -9 at random moments: every acknowledged write survives, nothing else appears.

A real `ragmem serve` takes uploads (and some deletes) from a client thread; at a random
moment (mid-upload, while the indexing jobs run, or during a restart's recovery) it is
killed with SIGKILL and started again on the same data dir. After each restart the jobs
of every acknowledged upload must finish, each acknowledged (202) document must be
listed, indexed and the top BM25 hit for its unique token, and no acknowledged (204)
delete may come back. SQLite must pass `PRAGMA integrity_check`, and no document may
be stored without its chunks or with a text other than the one sent.

A second test runs with a merge policy that merges after nearly every sync
(`merge_factor` 2), so kills land while background merges build, write and swap
segments; after every kill the index files the manifest names must pass their
checksums (`ragmem index verify`).

Rounds: `RAGMEM_KILL9_ROUNDS` (default 20; the merge test: `RAGMEM_KILL9_MERGE_ROUNDS`,
default 8); seed: `RAGMEM_KILL9_SEED` (default random,
printed). The 100-round run of docs/RELIABILITY.md:

    RAGMEM_KILL9_ROUNDS=100 .venv/bin/python -m pytest -q -s tests/reliability/test_kill9.py
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from rag.indexing.manifest import read_manifest, verify
from tests.reliability.server import (
    ForkServer,
    ServerProcess,
    integrity,
    list_documents,
    wait_for_jobs,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROUNDS = int(os.environ.get("RAGMEM_KILL9_ROUNDS", "20"))
MERGE_ROUNDS = int(os.environ.get("RAGMEM_KILL9_MERGE_ROUNDS", "8"))
MERGE_OFTEN = {"RAGMEM_INDEX__MERGE_FACTOR": "2", "RAGMEM_INDEX__MERGE_FLOOR_ROWS": "4"}
SEED = int(os.environ.get("RAGMEM_KILL9_SEED", str(random.SystemRandom().randrange(2**31))))
COLLECTION = "kb"
PAUSE = 0.05  # between uploads: a few dozen documents a round keep restarts (replays) short
DELETE_RATE = 0.1  # of requests that delete an acknowledged document
WORDS = ("harbor lantern granite orchard meadow falcon copper river glacier thunder violet "
         "compass saddle pepper marble candle willow ember quartz beacon tundra cobalt "
         "prairie anchor saffron timber").split()


def token(round_no: int, n: int) -> str:
    """A term that occurs in one document only (BM25 keeps `\\w{2,}` runs whole)."""
    return f"tok{round_no}x{n}q"


def make_text(rng: random.Random, round_no: int, n: int) -> str:
    """One chunk mostly; every tenth document spans two (about 1,300 chars)."""
    words = 200 if n % 10 == 9 else rng.randint(12, 40)
    body = " ".join(rng.choice(WORDS) for _ in range(words))
    return f"Record {token(round_no, n)}. {body}."


class Ledger:
    """What the client sent and what the server acknowledged.

    `sent`: every document before its request goes out; `acked`: id -> job id of each
    document a 202 acknowledged; `deleted`: ids whose delete a 204 acknowledged;
    `unsure`: ids whose delete was cut off by the kill (either outcome is right).
    """

    def __init__(self) -> None:
        self.sent: dict[str, str] = {}
        self.acked: dict[str, str | None] = {}
        self.deleted: set[str] = set()
        self.unsure: set[str] = set()

    def live(self) -> dict[str, str | None]:
        """Acknowledged documents that must be there."""
        return {d: j for d, j in self.acked.items() if d not in self.deleted | self.unsure}


class Uploader(threading.Thread):
    """Uploads 1-3 small JSON documents per request, now and then deletes an acknowledged
    one, until told to stop or the server dies."""

    def __init__(self, url: str, round_no: int, rng: random.Random, ledger: Ledger) -> None:
        super().__init__(name=f"uploader-{round_no}", daemon=True)
        self.url, self.round_no, self.rng, self.ledger = url, round_no, rng, ledger
        self.stop = threading.Event()
        self.first_ack = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        n = 0
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self.stop.is_set():
                live = sorted(self.ledger.live())
                if live and self.rng.random() < DELETE_RATE:
                    if not self._delete_doc(http, self.rng.choice(live)):
                        return
                    continue
                docs = []
                for _ in range(self.rng.randint(1, 3)):
                    doc_id = f"r{self.round_no}-{n}"
                    self.ledger.sent[doc_id] = make_text(self.rng, self.round_no, n)
                    docs.append({"id": doc_id, "title": doc_id, "text": self.ledger.sent[doc_id]})
                    n += 1
                try:
                    response = http.post(f"/v1/collections/{COLLECTION}/documents",
                                         json={"documents": docs})
                except httpx.TransportError:
                    return  # killed mid-request: this upload is not acknowledged
                if response.status_code != 202:
                    self.errors.append(f"upload: {response.status_code} {response.text[:200]}")
                    return
                body = response.json()
                for result in body["documents"]:
                    self.ledger.acked[result["id"]] = body["job_id"]
                self.first_ack.set()
                time.sleep(PAUSE)

    def _delete_doc(self, http: httpx.Client, doc_id: str) -> bool:
        try:
            response = http.delete(f"/v1/collections/{COLLECTION}/documents/{doc_id}")
        except httpx.TransportError:
            self.ledger.unsure.add(doc_id)
            return False
        if response.status_code != 204:
            self.errors.append(f"delete {doc_id}: {response.status_code} {response.text[:200]}")
            return False
        self.ledger.deleted.add(doc_id)
        return True


def check_stored(db_path: Path, ledger: Ledger) -> int:
    """With the server dead: SQLite is sound, each stored document is whole, and no
    acknowledged delete is undone.

    Returns:
        The number of documents stored.
    """
    assert integrity(db_path) == "ok"
    root = db_path.parent / "collections" / COLLECTION
    if read_manifest(root) is not None:  # whatever the manifest names was written whole
        assert verify(root) == [], verify(root)
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute(
            "SELECT d.id, d.text, COUNT(c.id), COALESCE(MIN(c.start), -1), COALESCE(MAX(c.end), -1)"
            " FROM documents d LEFT JOIN chunks c ON c.document_pk = d.pk GROUP BY d.pk").fetchall()
    finally:
        conn.close()
    for doc_id, text, chunks, start, end in rows:
        assert doc_id in ledger.sent, f"{doc_id}: stored but never sent"
        assert doc_id not in ledger.deleted, f"{doc_id}: deleted (204) but stored again"
        assert text == ledger.sent[doc_id], f"{doc_id}: stored text differs from the text sent"
        assert chunks >= 1 and start == 0 and end == len(text), f"{doc_id}: partial ({chunks} chunks)"
    return len(rows)


def top_hit(http: httpx.Client, doc_id: str) -> list[str]:
    round_no, n = doc_id[1:].split("-")
    response = http.post(f"/v1/collections/{COLLECTION}/retrieve",
                         json={"query": token(int(round_no), int(n)), "retriever": "bm25",
                               "top_k": 1})
    assert response.status_code == 200, response.text
    return [r["document_id"] for r in response.json()["results"]]


def check_served(http: httpx.Client, ledger: Ledger, new: list[str], gone: list[str]) -> None:
    """With the server up: the jobs finish; every acknowledged document is listed and
    indexed; each of `new` is the top BM25 hit for its token; none of `gone` is found."""
    live = ledger.live()
    jobs = wait_for_jobs(http, {live[d] for d in new if live.get(d)})
    failed = {j: job["error"] for j, job in jobs.items() if job["status"] != "done"}
    assert not failed, f"failed jobs: {failed}"
    stored = list_documents(http, COLLECTION)
    missing = sorted(set(live) - set(stored))
    assert not missing, f"{len(missing)} acknowledged documents lost: {missing[:10]}"
    pending = sorted(d for d in new if d in live and stored[d]["status"] != "indexed")
    assert not pending, f"acknowledged documents not indexed after their job: {pending[:10]}"
    back = sorted(set(gone) & set(stored))
    assert not back, f"deleted documents listed again: {back[:10]}"
    for doc_id in new:
        if doc_id in live:
            assert top_hit(http, doc_id) == [doc_id], doc_id
    for doc_id in gone:
        assert doc_id not in top_hit(http, doc_id), f"{doc_id}: deleted but retrieved"


def kill_at_random(server: ServerProcess, uploader: Uploader, rng: random.Random) -> str:
    """Kill mid-upload or after the uploads while the jobs run; returns which."""
    uploader.start()
    uploader.first_ack.wait(30)
    if rng.random() < 0.5:
        time.sleep(rng.uniform(0.0, 1.5))
        server.kill()
        moment = "upload"
    else:
        time.sleep(rng.uniform(0.2, 1.2))
        uploader.stop.set()
        uploader.join(60)
        time.sleep(rng.uniform(0.0, 0.6))
        server.kill()
        moment = "jobs"
    uploader.stop.set()
    uploader.join(60)
    assert not uploader.is_alive()
    assert not uploader.errors, uploader.errors
    return moment


def second_server_is_refused(data_dir: Path, log: Path, forks: ForkServer | None) -> None:
    """While one server runs, another on the same dir exits 2 with a clear message."""
    second = ServerProcess(data_dir, log, forks=forks).spawn()
    assert second.poll(180) == 2, second.log_tail()
    output = " ".join(second.log_tail(2000).split())
    assert f"data dir {data_dir} is in use by another ragmem process (pid" in output
    assert "Traceback" not in output


def test_acknowledged_documents_survive_kill9(tmp_path, forks) -> None:
    run_rounds(tmp_path, forks, ROUNDS, {})


def test_kill9_with_merges_in_flight(tmp_path, forks) -> None:
    merges = run_rounds(tmp_path, forks, MERGE_ROUNDS, MERGE_OFTEN)
    assert merges > 0  # the merges did run (segment numbers beyond one per sync)


def run_rounds(tmp_path: Path, forks: ForkServer | None, rounds: int,
               env: dict[str, str]) -> int:
    """`rounds` of uploads, deletes and kills; returns how many segments merges replaced."""
    rng = random.Random(SEED)
    print(f"\nkill -9: {rounds} rounds, env {env}, seed {SEED} (RAGMEM_KILL9_SEED={SEED} to replay)")
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    db_path = data_dir / "ragmem.sqlite3"
    ledger = Ledger()
    new: list[str] = []
    gone: list[str] = []
    moments: dict[str, int] = {"upload": 0, "jobs": 0, "restart": 0}
    started = time.monotonic()
    for round_no in range(rounds):
        t0 = time.monotonic()
        server = ServerProcess(data_dir, log, forks=forks, env=env).start()
        t1 = time.monotonic()
        try:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                if round_no == 0:
                    assert http.post("/v1/collections", json={"name": COLLECTION}).status_code == 201
                    second_server_is_refused(data_dir, tmp_path / "second.log", forks)
                check_served(http, ledger, new, gone)
            t2 = time.monotonic()
            acked_before, deleted_before = set(ledger.acked), set(ledger.deleted)
            uploader = Uploader(server.url, round_no, rng, ledger)
            moments[kill_at_random(server, uploader, rng)] += 1
            new = sorted(set(ledger.acked) - acked_before)
            gone = sorted(ledger.deleted - deleted_before)
        finally:
            server.kill()
        stored = check_stored(db_path, ledger)
        print(f"round {round_no}: {len(new)} acknowledged, {len(gone)} deleted, {stored} stored; "
              f"start {t1 - t0:.1f}s, check {t2 - t1:.1f}s, upload+kill {time.monotonic() - t2:.1f}s"
              f" ({time.monotonic() - started:.0f}s)")
        if rng.random() < 0.15:  # once more while the restart recovers and reruns the jobs
            restart = ServerProcess(data_dir, log, forks=forks, env=env).spawn()
            time.sleep(rng.uniform(1.0, 8.0))
            restart.kill()
            moments["restart"] += 1
            check_stored(db_path, ledger)
    # every acknowledged document and delete once more, then a clean stop
    server = ServerProcess(data_dir, log, forks=forks, env=env).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            check_served(http, ledger, sorted(ledger.acked), sorted(ledger.deleted))
    finally:
        code = server.stop()
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught
    assert code in (0, -15) and "Application shutdown complete" in server.log_tail(), code
    stored = check_stored(db_path, ledger)
    summary = {"rounds": rounds, "seed": SEED, "kills": moments,
               "acknowledged": len(ledger.acked), "deleted": len(ledger.deleted),
               "delete_cut_off": len(ledger.unsure), "stored": stored, "sent": len(ledger.sent),
               "seconds": round(time.monotonic() - started)}
    manifest = read_manifest(data_dir / "collections" / COLLECTION)
    summary["segments"] = len(manifest["segments"])
    summary["replaced_by_merges"] = manifest["next_segment"] - 1 - len(manifest["segments"])
    print(f"kill -9 summary: {json.dumps(summary)}")
    return summary["replaced_by_merges"]
