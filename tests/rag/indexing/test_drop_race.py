"""A collection dropped while a sync or a merge of it is under way (issue 13, item 4).

`drop` marks the live indexes dropped under their writer lock and then removes the
folder; a sync that took the writer after that must write nothing: before, it wrote its
tombstones or its new segment into the folder being removed (`seg-...: No such file`),
or recreated the folder of a collection that no longer exists.
"""

from __future__ import annotations

import pytest

from tests.rag.service.test_service import corpus_records, ingest, make_service

pytestmark = pytest.mark.integration


def test_a_sync_after_drop_writes_nothing_and_raises_nothing(tmp_path, embedder) -> None:
    service = make_service(tmp_path, embedder)
    try:
        collection, _, _ = ingest(service, "kb", corpus_records()[:3])
        live = service.indexes.get(collection)
        root = service.indexes.folder("kb")
        assert root.is_dir()
        victim = int(live.segments.segments[0].ids[0])
        with live.writer:  # a sync under way: tombstones to write at its persist
            live.segments.delete([victim])
        service.indexes.drop("kb")
        assert not root.exists()
        with live.writer:
            assert live.persist() == []  # the worker's sync, after the drop
        assert live.merge_once(list(live.segments.segments)) is False
        assert not root.exists()
    finally:
        service.close()
