"""A real `ragmem serve` subprocess on a free loopback port (auth is off on loopback).

Used by the reliability tests, which kill it with SIGKILL, limit its file sizes or hit
it from many threads; the in-process server of tests/api is not enough for that.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.api.conftest import free_port

SCRIPT = Path(sys.executable).parent / "ragmem"
REPO = Path(__file__).resolve().parents[2]


def ragmem_command() -> list[str]:
    """The `ragmem` console script of this interpreter's environment."""
    if SCRIPT.exists():
        return [str(SCRIPT)]
    return [sys.executable, "-c", "from api.cli import main; main()"]


def server_env(**extra: str) -> dict[str, str]:
    """This environment without RAGMEM_* settings, offline, one torch thread."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGMEM_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               RAGMEM_INDEX__TORCH_THREADS="1", **extra)
    return env


class ForkServer:
    """The client of tests/reliability/forkserver.py: `spawn` forks a `ragmem ...` process
    from an interpreter that has the heavy modules imported already."""

    def __init__(self, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.forkserver"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env=server_env(PYTHONPATH=str(REPO)), cwd=cwd)
        assert "ready" in self._read(), "the fork server did not start"

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the fork server exited ({self.process.poll()})")
        return json.loads(line)

    def _ask(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def spawn(self, args: list[str], log: Path, *, cwd: Path, env: dict[str, str],
              fsize: int | None = None) -> int:
        return self._ask(op="spawn", args=args, log=str(log), cwd=str(cwd), env=env,
                         fsize=fsize)["pid"]

    def wait(self, pid: int, timeout: float = 0.0) -> int | None:
        """The exit code of a child that ended (reaping it), None while it runs."""
        return self._ask(op="wait", pid=pid, timeout=timeout)["code"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(30)


def file_size_limit(limit: int) -> Callable[[], None]:
    """A preexec_fn: writes past `limit` bytes per file fail with EFBIG (not SIGXFSZ)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


class ServerProcess:
    """`ragmem serve --data-dir DIR --port P`, output to `log`; a fresh interpreter, or a
    fork of `forks` when given. `fsize` limits the size of every file it writes."""

    def __init__(self, data_dir: Path, log: Path, *, forks: ForkServer | None = None,
                 fsize: int | None = None, env: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.log = Path(log)
        self.forks = forks
        self.fsize = fsize
        self.env = env or {}  # RAGMEM_* settings on top of server_env()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.pid: int | None = None
        self.process: subprocess.Popen | None = None
        self.returncode: int | None = None

    def spawn(self) -> ServerProcess:
        """Start the process (without waiting for it to serve)."""
        args = ["serve", "--data-dir", str(self.data_dir), "--host", "127.0.0.1",
                "--port", str(self.port)]
        with open(self.log, "ab") as out:
            out.write(f"\n--- ragmem serve on port {self.port}\n".encode())
        if self.forks is not None:
            self.pid = self.forks.spawn(args, self.log, cwd=self.data_dir.parent, env=self.env,
                                        fsize=self.fsize)
            return self
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [*ragmem_command(), *args], stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=server_env(**self.env), cwd=self.data_dir.parent,
                start_new_session=True,
                preexec_fn=file_size_limit(self.fsize) if self.fsize is not None else None)
        self.pid = self.process.pid
        return self

    def poll(self, timeout: float = 0.0) -> int | None:
        """The exit code once the process ended, else None (after waiting up to `timeout`)."""
        if self.returncode is None and self.pid is not None:
            if self.forks is not None:
                self.returncode = self.forks.wait(self.pid, timeout)
            else:
                try:
                    self.returncode = self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
        return self.returncode

    def start(self, timeout: float = 240.0) -> ServerProcess:
        """Spawn and wait until /healthz answers."""
        self.spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.poll() is not None:
                raise RuntimeError(f"ragmem serve exited with {self.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise TimeoutError(f"no /healthz from {self.url} in {timeout}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.pid is not None and self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            assert self.poll(30) is not None, f"pid {self.pid} survived SIGKILL"

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (uvicorn's graceful shutdown), SIGKILL after `timeout`."""
        assert self.pid is not None
        if self.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            if self.poll(timeout) is None:
                self.kill()
        return self.returncode

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def integrity(db_path: Path) -> str:
    """`PRAGMA integrity_check` of a database no process has open (recovers its WAL)."""
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def wait_for_jobs(http: httpx.Client, job_ids, timeout: float = 180.0) -> dict[str, dict]:
    """Poll until every job is done or failed; returns the jobs by id."""
    pending = set(job_ids)
    jobs: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while pending:
        for job_id in sorted(pending):
            response = http.get(f"/v1/jobs/{job_id}")
            assert response.status_code == 200, response.text
            job = response.json()
            if job["status"] in ("done", "failed"):
                jobs[job_id] = job
                pending.discard(job_id)
        if pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs still unfinished after {timeout}s: {sorted(pending)[:5]}")
            time.sleep(0.1)
    return jobs


def list_documents(http: httpx.Client, collection: str) -> dict[str, dict]:
    """Every document of a collection by id (all pages)."""
    found: dict[str, dict] = {}
    offset = 0
    while True:
        response = http.get(f"/v1/collections/{collection}/documents",
                            params={"limit": 1000, "offset": offset})
        assert response.status_code == 200, response.text
        page = response.json()["documents"]
        found.update({d["id"]: d for d in page})
        if len(page) < 1000:
            return found
        offset += 1000
