"""One ragmem process per data dir: an exclusive `flock` on `<data_dir>/ragmem.lock`.

The lock file holds the owner's pid, so a second opener can say who has the dir. The
kernel drops the lock when its process ends, even by SIGKILL, so a crash never leaves a
stale lock behind. `flock` is advisory and local: it does not guard a data dir shared
over NFS by two machines.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from rag.errors import DataDirLockedError

LOCK_NAME = "ragmem.lock"


class DataDirLock:
    """The exclusive lock on one data dir; `acquire` and `release` are idempotent."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._file is not None

    def acquire(self) -> DataDirLock:
        """Take the lock (creating the dir and the file) and write this process's pid.

        Raises:
            DataDirLockedError: when another process (or another opener in this one)
                holds it.
        """
        if self._file is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+b")  # noqa: SIM115 - kept open: the open file holds the lock
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read(32).decode("ascii", "replace").strip() or "unknown"
            handle.close()
            raise DataDirLockedError(f"data dir {self.path.parent} is in use by another ragmem "
                                     f"process (pid {owner})") from None
        except OSError:
            handle.close()
            raise
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        """Let the lock go (closing the file drops it)."""
        handle, self._file = self._file, None
        if handle is not None:
            handle.close()
