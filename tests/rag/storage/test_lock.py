"""One ragmem process per data dir: the flock on <data_dir>/ragmem.lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import DataDirLockedError, RagmemError
from rag.service.core import RagService
from rag.settings import Settings
from rag.storage.lock import LOCK_NAME, DataDirLock

REPO = Path(__file__).resolve().parents[3]


def ragmem_command() -> list[str]:
    """The `ragmem` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "ragmem"
    return [str(script)] if script.exists() else [sys.executable, "-c",
                                                  "from api.cli import main; main()"]


@pytest.mark.unit
def test_second_lock_fails_with_the_owner_pid(tmp_path) -> None:
    first = DataDirLock(tmp_path / "data").acquire()
    assert first.held and (tmp_path / "data" / LOCK_NAME).read_text().strip() == str(os.getpid())
    with pytest.raises(DataDirLockedError, match=rf"in use by another ragmem process \(pid {os.getpid()}\)"):
        DataDirLock(tmp_path / "data").acquire()
    assert issubclass(DataDirLockedError, RagmemError)
    assert first.acquire() is first  # idempotent for its holder
    first.release()
    first.release()
    again = DataDirLock(tmp_path / "data").acquire()
    assert again.held
    again.release()


@pytest.mark.integration
def test_two_open_services_on_one_dir(tmp_path, embedder) -> None:
    settings = Settings(data_dir=tmp_path)
    first = RagService(settings, embedder=embedder).open()
    second = RagService(settings, embedder=embedder)
    with pytest.raises(DataDirLockedError, match=str(tmp_path)):
        second.open()
    assert not second.lock.held
    first.close()
    second.open().create_collection("kb")  # the dir is free once the first is closed
    second.close()


@pytest.mark.integration
def test_second_serve_on_a_locked_dir_exits_with_a_clear_message(tmp_path) -> None:
    held = DataDirLock(tmp_path).acquire()  # as a running server holds it
    try:
        result = subprocess.run([*ragmem_command(), "serve", "--data-dir", str(tmp_path),
                                 "--port", "1"], cwd=REPO, capture_output=True, text=True,
                                timeout=120)
    finally:
        held.release()
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, output
    assert f"data dir {tmp_path} is in use by another ragmem process (pid {os.getpid()})" in output
    assert "Traceback" not in output
