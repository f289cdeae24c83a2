"""What the fusion, CRAG and adaptive retrievers may use beyond the indexes themselves.

Indexes rank chunk ids; query variants, CRAG strips and entity overlap need the chunks'
text, CRAG needs its per-collection calibration, and the LLM paths need a generator with
JSON output. The service builds one `RetrievalContext` per collection and hands it to
`build_retriever`; every field is optional, and each retriever says in its trace which
path ran when something is missing.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from rag.errors import RagmemError

CALIBRATION_FILE = "crag.json"
CALIBRATION_VERSION = 1


class ChunkText(Protocol):
    """The two fields of a stored chunk that retrieval reads."""

    title: str
    text: str


ChunkTexts = Callable[[Sequence[int]], Mapping[int, ChunkText]]
"""Chunk ids -> their stored rows (`Store.get_chunks` fits); missing ids are left out."""


@runtime_checkable
class JSONGenerator(Protocol):
    """An LLM that answers a prompt with JSON matching `schema` (DESIGN.md: Generators)."""

    def generate_json(self, prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
        """The model's JSON reply as a dict."""
        ...


class CalibrationError(RagmemError):
    """A stored CRAG calibration file is unreadable or of an unknown version."""


@dataclass(frozen=True)
class RetrievalContext:
    """Per-collection extras for the retrievers; all optional.

    Attributes:
        texts: looks up chunk titles and texts by id.
        calibration: the collection's fitted CRAG evaluator (`crag.json`), if any.
        generator: an LLM with JSON output; None selects the offline paths.
    """

    texts: ChunkTexts | None = None
    calibration: Mapping[str, Any] = field(default_factory=dict)
    generator: JSONGenerator | None = None

    @classmethod
    def for_collection(cls, texts: ChunkTexts | None, folder: Path | None, *,
                       generator: JSONGenerator | None = None,
                       calibrations: CalibrationCache | None = None) -> RetrievalContext:
        """The context of one collection: its texts and the calibration in `folder`
        (through `calibrations` when given, so an unchanged file is not read again)."""
        if folder is None:
            calibration: Mapping[str, Any] = {}
        else:
            calibration = (calibrations.get(folder) if calibrations is not None
                           else load_calibration(folder))
        return cls(texts=texts, calibration=calibration, generator=generator)


def load_calibration(folder: Path) -> dict[str, Any]:
    """Read `folder/crag.json`; an absent file means "use the defaults" ({}).

    Raises:
        CalibrationError: when the file is not JSON or has an unknown version.
    """
    path = Path(folder) / CALIBRATION_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{path}: unreadable ({exc})") from exc
    if not isinstance(data, dict) or data.get("version") != CALIBRATION_VERSION:
        raise CalibrationError(f"{path}: unknown calibration version {data.get('version')!r}"
                               if isinstance(data, dict) else f"{path}: not a JSON object")
    return data


class CalibrationCache:
    """Each collection's `crag.json`, read once and again only when the file changes.

    A cached entry is keyed by the file's (mtime_ns, size, inode): `save_calibration`
    writes a new file and renames it over the old one, so `ragmem calibrate` invalidates
    the entry without telling the service. An absent file caches as {} until one appears.
    Safe to share between threads.
    """

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[tuple[int, int, int] | None, Mapping[str, Any]]] = {}
        self._lock = threading.Lock()
        self.reads = 0  # files parsed (for tests and stats)

    def get(self, folder: Path) -> Mapping[str, Any]:
        """The calibration in `folder` (see `load_calibration`), from memory when unchanged;
        read-only, since every request shares it.

        Raises:
            CalibrationError: when the file is not JSON or has an unknown version.
        """
        path = Path(folder) / CALIBRATION_FILE
        try:
            st = path.stat()
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            cached = self._entries.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        data = MappingProxyType(load_calibration(folder) if stamp is not None else {})
        with self._lock:
            self.reads += stamp is not None
            self._entries[path] = (stamp, data)
        return data

    def forget(self, folder: Path) -> None:
        """Drop `folder`'s entry (its collection was deleted)."""
        with self._lock:
            self._entries.pop(Path(folder) / CALIBRATION_FILE, None)


def save_calibration(folder: Path, calibration: Mapping[str, Any]) -> Path:
    """Write `crag.json` atomically (temp file, fsync, rename) and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CALIBRATION_FILE
    tmp = folder / f".{CALIBRATION_FILE}.tmp"
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump({**calibration, "version": CALIBRATION_VERSION}, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    return path
