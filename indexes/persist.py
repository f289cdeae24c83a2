"""Plain, versioned index files: JSON manifests and .npy arrays, never pickle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from indexes.base import FORMAT_VERSION
from indexes.errors import IndexFormatError


def write_meta(directory: Path, kind: str, payload: dict[str, Any]) -> None:
    """Write `<directory>/<kind>.json` holding the format version and `payload`."""
    data = {"format_version": FORMAT_VERSION, "kind": kind, **payload}
    (directory / f"{kind}.json").write_text(json.dumps(data, ensure_ascii=False))


def read_meta(directory: Path, kind: str) -> dict[str, Any]:
    """Read what `write_meta` wrote, rejecting a missing file or an unknown version.

    Raises:
        IndexFormatError: when the file is missing, not JSON, or of another version/kind.
    """
    path = directory / f"{kind}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise IndexFormatError(f"{path}: missing") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexFormatError(f"{path}: not valid JSON ({exc})") from exc
    if data.get("format_version") != FORMAT_VERSION or data.get("kind") != kind:
        raise IndexFormatError(
            f"{path}: unsupported format {data.get('kind')!r} v{data.get('format_version')!r}"
            f" (expected {kind!r} v{FORMAT_VERSION})"
        )
    return data


def save_array(path: Path, array: np.ndarray) -> None:
    """Save one array as .npy without pickle."""
    with open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def load_array(path: Path) -> np.ndarray:
    """Load an .npy array without pickle.

    Raises:
        IndexFormatError: when the file is missing or corrupt.
    """
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise IndexFormatError(f"{path}: unreadable array ({exc})") from exc
