"""Index generations: atomic CURRENT, checksummed manifests, interrupted writes never live."""

from __future__ import annotations

import json

import pytest

from indexes.errors import IndexFormatError
from rag.indexing.generations import current_generation, read_manifest, write_generation

pytestmark = pytest.mark.unit


def saver(payload: bytes = b"vectors"):
    def save(folder):
        (folder / "dense.faiss").write_bytes(payload)
        (folder / "bm25.json").write_text(json.dumps({"n": len(payload)}))
    return save


def test_write_makes_the_generation_live(tmp_path) -> None:
    assert current_generation(tmp_path) is None
    folder = write_generation(tmp_path, {"applied_seq": 3}, saver())
    assert folder.name == "gen-000001"
    assert (tmp_path / "CURRENT").read_text() == "gen-000001"
    assert current_generation(tmp_path) == folder
    manifest = read_manifest(folder)
    assert manifest["applied_seq"] == 3 and manifest["manifest_version"] == 1
    assert set(manifest["files"]) == {"dense.faiss", "bm25.json"}
    assert not (tmp_path / "CURRENT.tmp").exists()


def test_next_write_replaces_and_cleans_up(tmp_path) -> None:
    write_generation(tmp_path, {"applied_seq": 1}, saver(b"one"))
    second = write_generation(tmp_path, {"applied_seq": 2}, saver(b"two"))
    assert second.name == "gen-000002" and current_generation(tmp_path) == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CURRENT", "gen-000002"]
    assert (second / "dense.faiss").read_bytes() == b"two"


def test_corrupt_file_is_detected(tmp_path) -> None:
    folder = write_generation(tmp_path, {"applied_seq": 1}, saver())
    (folder / "dense.faiss").write_bytes(b"vectorz")  # same size, other bytes
    with pytest.raises(IndexFormatError, match="dense.faiss"):
        read_manifest(folder)


def test_missing_file_is_detected(tmp_path) -> None:
    folder = write_generation(tmp_path, {"applied_seq": 1}, saver())
    (folder / "bm25.json").unlink()
    with pytest.raises(IndexFormatError, match="bm25.json"):
        read_manifest(folder)


@pytest.mark.parametrize("content", ["", "{not json", json.dumps({"manifest_version": 7})])
def test_bad_manifest_is_detected(tmp_path, content) -> None:
    folder = write_generation(tmp_path, {"applied_seq": 1}, saver())
    (folder / "manifest.json").write_text(content)
    with pytest.raises(IndexFormatError):
        read_manifest(folder)


def test_missing_manifest_is_detected(tmp_path) -> None:
    folder = write_generation(tmp_path, {"applied_seq": 1}, saver())
    (folder / "manifest.json").unlink()
    with pytest.raises(IndexFormatError, match="manifest"):
        read_manifest(folder)


def test_interrupted_write_never_becomes_live(tmp_path) -> None:
    live = write_generation(tmp_path, {"applied_seq": 1}, saver(b"one"))

    def crash(folder):
        (folder / "dense.faiss").write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_generation(tmp_path, {"applied_seq": 2}, crash)
    assert current_generation(tmp_path) == live
    assert read_manifest(live)["applied_seq"] == 1
    assert (tmp_path / ".tmp-gen-000002").exists()  # the leftover of the crash
    # the next write replaces the leftover and cleans it up
    nxt = write_generation(tmp_path, {"applied_seq": 3}, saver(b"three"))
    assert nxt.name == "gen-000002" and read_manifest(nxt)["applied_seq"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CURRENT", "gen-000002"]


def test_leftover_temp_folder_with_a_full_manifest_is_ignored(tmp_path) -> None:
    live = write_generation(tmp_path, {"applied_seq": 1}, saver())
    leftover = tmp_path / ".tmp-gen-000002"
    leftover.mkdir()
    (leftover / "manifest.json").write_text(json.dumps({"manifest_version": 1, "files": {}}))
    assert current_generation(tmp_path) == live


@pytest.mark.parametrize("pointer", ["", "gen-000009", ".tmp-gen-000001", "../elsewhere",
                                     "manifest.json"])
def test_current_pointing_nowhere_means_no_generation(tmp_path, pointer) -> None:
    (tmp_path / ".tmp-gen-000001").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "CURRENT").write_text(pointer)
    assert current_generation(tmp_path) is None


def test_generation_number_follows_the_live_one(tmp_path) -> None:
    (tmp_path / "gen-000041").mkdir()
    (tmp_path / "CURRENT").write_text("gen-000041\n")
    assert write_generation(tmp_path, {}, saver()).name == "gen-000042"
    assert not (tmp_path / "gen-000041").exists()
