"""The offline embedder: packaged MiniLM, normalized float32 vectors, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from indexes import embedder as embedder_module
from indexes.embedder import DEFAULT_MODEL, Embedder, dim_from_config, resolve_model_path
from indexes.errors import MissingDependencyError


@pytest.mark.unit
def test_constructor_is_cheap_and_validates() -> None:
    e = Embedder("no-such-model")
    assert e._model is None and e.name == "no-such-model"
    with pytest.raises(ValueError, match="0"):
        Embedder(batch_size=0)


@pytest.mark.unit
def test_unknown_model_is_never_downloaded(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        resolve_model_path("org/unknown-model")
    assert resolve_model_path(str(tmp_path)) == tmp_path


@pytest.mark.unit
def test_missing_model_package_names_it(monkeypatch) -> None:
    monkeypatch.setitem(embedder_module.PACKAGED_MODELS, "fake-model",
                        ("ragmem_no_such_pkg", "get_model_path"))
    with pytest.raises(MissingDependencyError, match="ragmem-no-such-pkg") as info:
        resolve_model_path("fake-model")
    assert isinstance(info.value, ImportError)


@pytest.mark.unit
def test_default_model_resolves_to_an_installed_folder() -> None:
    path = resolve_model_path(DEFAULT_MODEL)
    assert path.is_dir() and any(path.iterdir())


@pytest.mark.integration
def test_encode_gives_unit_float32_vectors(embedder) -> None:
    vectors = embedder.encode(["a cat sat on the mat", "stock markets fell sharply", "猫"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)
    assert embedder.dim == 384 and embedder.name == "all-MiniLM-L6-v2"


@pytest.mark.integration
def test_encode_is_semantic_and_deterministic(embedder) -> None:
    q, near, far = embedder.encode(["a kitten sleeping", "a small cat taking a nap",
                                    "interest rates of the central bank"])
    assert q @ near > q @ far + 0.2
    again = embedder.encode(["a kitten sleeping"])[0]
    np.testing.assert_allclose(q, again, atol=1e-5)


@pytest.mark.integration
def test_load_is_idempotent_and_counts_tokens(embedder) -> None:
    model = embedder._model
    assert embedder.load() is embedder and embedder._model is model
    assert embedder.count_tokens("hello world") == 2


@pytest.mark.integration
def test_single_text_path_gives_the_batch_vector(embedder) -> None:
    query = "What is the best thing to do in San Francisco on a sunny day?"
    long_text = "the haystack goes on " * 200  # past max_seq_length: truncated alike
    texts = [query, "an unrelated, somewhat longer sentence about markets", long_text]
    batch = embedder.encode(texts)
    library = embedder._model.encode(texts, normalize_embeddings=True)  # sentence-transformers' own
    for i in (0, 2):
        one = embedder.encode([texts[i]])  # the single-text path
        assert one.shape == (1, 384) and one.dtype == np.float32 and one.flags["C_CONTIGUOUS"]
        assert float(one[0] @ batch[i]) > 0.9999 and float(one[0] @ library[i]) > 0.9999
        np.testing.assert_allclose(np.linalg.norm(one, axis=1), 1.0, atol=1e-5)


def _folder(tmp_path, modules: list | None, configs: dict) -> object:
    import json

    tmp_path.mkdir(parents=True, exist_ok=True)
    if modules is not None:
        (tmp_path / "modules.json").write_text(json.dumps(
            [{"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
             for i, (kind, path) in enumerate(modules)]))
    for rel, data in configs.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(json.dumps(data))
    return tmp_path


@pytest.mark.unit
def test_dim_comes_from_the_model_folder_without_loading() -> None:
    e = Embedder()
    assert e.dim == 384 and e.name == DEFAULT_MODEL
    assert e._model is None and e._onnx is None and not e.loaded  # no weights read


@pytest.mark.unit
def test_dim_from_config_follows_the_pipeline(tmp_path) -> None:
    pool = {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True,
            "pooling_mode_cls_token": False}
    base = [("Transformer", ""), ("Pooling", "1_Pooling")]
    assert dim_from_config(_folder(tmp_path / "a", base + [("Normalize", "2_Normalize")],
                                   {"1_Pooling/config.json": pool})) == 384
    both = pool | {"pooling_mode_max_tokens": True}  # mean and max concatenated
    assert dim_from_config(_folder(tmp_path / "b", base, {"1_Pooling/config.json": both})) == 768
    dense = {"in_features": 384, "out_features": 128}
    assert dim_from_config(_folder(tmp_path / "c", base + [("Dense", "2_Dense")],
                                   {"1_Pooling/config.json": pool, "2_Dense/config.json": dense})) == 128
    assert dim_from_config(_folder(tmp_path / "d", None, {"config.json": {"hidden_size": 768}})) == 768
    truncated = {"1_Pooling/config.json": pool, "config_sentence_transformers.json": {"truncate_dim": 64}}
    assert dim_from_config(_folder(tmp_path / "e", base, truncated)) == 64
    # a module it cannot size, or no config at all: unknown (the embedder then loads the model)
    assert dim_from_config(_folder(tmp_path / "f", base + [("CustomLayer", "2_X")],
                                   {"1_Pooling/config.json": pool})) is None
    assert dim_from_config(_folder(tmp_path / "g", None, {})) is None


@pytest.mark.integration
def test_config_dim_is_the_loaded_models_dim(embedder) -> None:
    assert embedder.loaded
    assert dim_from_config(resolve_model_path(DEFAULT_MODEL)) == embedder.dim == 384


def test_a_repeated_query_is_encoded_once(embedder, monkeypatch):
    """An ask encodes its question in the retriever and again in the evidence check:
    the second encode is served from the recent queries, the same vector."""
    calls = []
    original = embedder._encode

    def counting(texts, **kwargs):
        calls.append(list(texts))
        return original(texts, **kwargs)

    monkeypatch.setattr(embedder, "_encode", counting)
    query = "which volcano erupted in 79 AD? (a repeated-query test)"
    first = embedder.encode([query])
    second = embedder.encode([query])
    assert calls == [[query]]
    np.testing.assert_array_equal(first, second)
    second[0, 0] += 1.0  # a caller changing its copy leaves the cached vector alone
    np.testing.assert_array_equal(embedder.encode([query]), first)
    embedder.encode([query, "another text"])  # batches are not cached
    assert len(calls) == 2
    embedder.forget_recent()  # a benchmark timing query encodes runs the model each time
    np.testing.assert_allclose(embedder.encode([query]), first, atol=1e-6)
    assert calls[-1] == [query] and len(calls) == 3
