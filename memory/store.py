"""Where a block memory lives: its rows (a `BlockRows`, owned by the storage layer) and one
FAISS file per memory in a folder.

The rows are the truth (block texts, representative vectors); each memory's FAISS index is
derived from them, written atomically, and rebuilt from the rows when missing or stale.
"""

from __future__ import annotations

import os
from pathlib import Path

from memory.errors import MemoryNotFoundError
from memory.rows import BlockRows


class MemoryStore:
    """A memory's rows (`rows`) and FAISS files (`faiss_dir`, created on first write)."""

    def __init__(self, rows: BlockRows, faiss_dir: str | Path) -> None:
        self.rows = rows
        self.faiss_dir = Path(faiss_dir)

    def delete_memory(self, name: str) -> None:
        """Delete a memory's rows and FAISS file (no error when absent)."""
        try:
            info = self.rows.get_memory(name)
        except MemoryNotFoundError:
            return
        self.rows.delete_memory(info.id)
        self.faiss_path(info.id).unlink(missing_ok=True)

    def faiss_path(self, memory_id: int) -> Path:
        """Where the FAISS index of memory `memory_id` lives."""
        return self.faiss_dir / f"memory-{memory_id}.faiss"

    def write_faiss(self, memory_id: int, index: object) -> None:
        """Write a FAISS index atomically (temp file, fsync, rename, directory fsync)."""
        import faiss

        self.faiss_dir.mkdir(parents=True, exist_ok=True)
        path = self.faiss_path(memory_id)
        tmp = path.with_suffix(".faiss.tmp")
        faiss.write_index(index, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(self.faiss_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
