"""The service core. `from rag import Ragmem` is the Python entry point (see rag/client.py).

Folders by role: `storage/` (SQLite, migrations, the data-dir lock), `ingest/` (parsers,
chunking), `indexing/` (the index manager and on-disk generations), `retrieval/`
(retrievers, fusion, CRAG, adaptive routing), `generation/` (answers, prompts, answer
backends), `service/` (RagService and what it owns), `cli/`
(the commands that need only rag). The names below load lazily, so importing a
submodule (the CLI's start-up) does not pull in the models.
"""

from typing import Any

__all__ = ["AddResult", "Answer", "Citation", "Passage", "Ragmem", "Retrieval"]


def __getattr__(name: str) -> Any:
    if name in ("Ragmem", "Retrieval", "AddResult"):
        from rag import client

        return getattr(client, name)
    if name in ("Answer", "Citation", "Passage"):
        from rag.generation import answers

        return getattr(answers, name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
