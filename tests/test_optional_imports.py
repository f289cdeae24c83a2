"""STYLE rule 2: `indexes`, `rag` and `memory` import with faiss (and vllm) hidden, and
using the dense index then fails loudly, naming the package to install."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    HIDDEN = {"faiss", "vllm"}

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HIDDEN:
                raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)",
                                          name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    for name in list(sys.modules):
        if name.split(".")[0] in HIDDEN:
            del sys.modules[name]

    imported, failed = [], {}
    for package in ("indexes", "rag", "memory"):
        module = importlib.import_module(package)
        imported.append(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=package + "."):
            try:
                importlib.import_module(info.name)
                imported.append(info.name)
            except ImportError as exc:
                # only failures caused by a hidden library concern this test
                if (exc.name or "").split(".")[0] in HIDDEN:
                    failed[info.name] = repr(exc)

    import numpy as np
    from indexes.base import Chunk
    from indexes.dense import DenseIndex

    class Stub:
        name, dim = "stub", 3
        def encode(self, texts, **kwargs):
            return np.ones((len(texts), 3), dtype=np.float32) / np.sqrt(3)

    errors = {}
    index = DenseIndex(Stub())
    for label, call in [("add", lambda: index.add([Chunk(1, "x")])),
                        ("save", lambda: index.save(None))]:
        try:
            call()
            errors[label] = None
        except ImportError as exc:
            errors[label] = [type(exc).__name__, str(exc)]
    errors["search_empty"] = index.search("x", 3)  # nothing indexed: no faiss needed
    print(json.dumps({"imported": imported, "failed": failed, "errors": errors,
                      "faiss_loaded": "faiss" in sys.modules}))
    """
)


@pytest.fixture(scope="module")
def report() -> dict:
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True,
                            text=True, timeout=300, env={"HF_HUB_OFFLINE": "1",
                                                         "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_packages_import_without_faiss(report) -> None:
    assert {"indexes", "rag", "memory"} <= set(report["imported"])
    assert {"indexes.dense", "rag.service.core", "rag.indexing.manager"} <= set(report["imported"])
    assert report["failed"] == {}
    assert report["faiss_loaded"] is False


def test_dense_index_names_the_missing_extra(report) -> None:
    for operation in ("add", "save"):
        kind, message = report["errors"][operation]
        assert kind == "MissingDependencyError", operation
        assert "faiss-cpu" in message, operation
    assert report["errors"]["search_empty"] == []
