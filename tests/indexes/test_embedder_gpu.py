"""The GPU stream path of the embedder, its logic run on CPU tensors (and on CUDA when a
GPU is present): windows, length-sorted batches, padding, pooling, order of the output."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from indexes.embedder import DEFAULT_MODEL, Embedder, resolve_model_path
from indexes.embedder_gpu import (
    StreamEncoder,
    length_sorted_batches,
    pad_block,
    stream_compatible,
    windows,
)

TEXTS = ["hi", "a cat sat on the mat", "  leading and trailing whitespace  ",
         "Stock markets fell sharply on Tuesday after the central bank raised interest rates.",
         "北京是中华人民共和国的首都。", "the haystack goes on " * 200,  # truncated at 256 tokens
         "Enzymes lower the activation energy of biochemical reactions.", "Москва — столица России.",
         "Photosynthesis converts light energy into chemical energy stored in glucose.",
         "12345 67890", "A kitten sleeping in the sun."]


@pytest.mark.unit
def test_windows_cover_every_index_once() -> None:
    assert windows(7, 3) == [range(0, 3), range(3, 6), range(6, 7)]
    assert windows(0, 3) == [] and windows(2, 5) == [range(0, 2)]
    with pytest.raises(ValueError, match="window"):
        windows(3, 0)


@pytest.mark.unit
def test_batches_are_length_sorted_longest_first_and_stable() -> None:
    batches = length_sorted_batches([3, 9, 3, 1, 9, 5], 4)
    assert [b.tolist() for b in batches] == [[1, 4, 5, 0], [2, 3]]
    assert sorted(np.concatenate(batches).tolist()) == list(range(6))
    with pytest.raises(ValueError, match="batch_size"):
        length_sorted_batches([1], 0)


@pytest.mark.unit
def test_pad_block_pads_to_the_longest_row_of_the_batch_only() -> None:
    rows = [[101, 7, 102], [101, 102], [101, 5, 6, 7, 8, 102]]
    block = pad_block(rows, [0, 1], pad_id=0)
    assert block.dtype == np.int64 and block.tolist() == [[101, 7, 102], [101, 102, 0]]
    assert pad_block(rows, [2], pad_id=0).shape == (1, 6)


@pytest.mark.unit
def test_stream_path_needs_transformer_mean_pooling_normalize(tmp_path) -> None:
    assert stream_compatible(resolve_model_path(DEFAULT_MODEL))
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize"}]
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert not stream_compatible(tmp_path)  # CLS pooling: not what the stream path computes
    assert not stream_compatible(tmp_path / "missing")


@pytest.mark.integration
@pytest.mark.parametrize(("window", "batch_size"), [(4, 3), (16384, 1024)])
def test_stream_vectors_match_sentence_transformers_in_input_order(embedder, window, batch_size) -> None:
    model = embedder._model
    reference = model.encode(TEXTS, normalize_embeddings=True)
    encoder = StreamEncoder(model[0].auto_model, model.tokenizer, device="cpu",
                            max_seq_length=model.max_seq_length, batch_size=batch_size, window=window)
    assert not encoder.cuda and not encoder.fp16 and encoder._copy_stream is None
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.sum(vectors * reference, axis=1).min() > 0.9999  # same vector, same position
    assert encoder.encode([]).shape == (0, 384)


@pytest.mark.integration
def test_fp16_weights_stay_within_the_same_embedder(embedder) -> None:
    """The cast the stream path makes on a GPU, here on a CPU copy of the weights."""
    model = embedder._model
    torch = pytest.importorskip("torch")
    half = StreamEncoder(copy.deepcopy(model[0].auto_model), model.tokenizer, device="cpu",
                         max_seq_length=model.max_seq_length, fp16=True, batch_size=4)
    assert next(half.model.parameters()).dtype == torch.float16
    cosines = np.sum(half.encode(TEXTS) * model.encode(TEXTS, normalize_embeddings=True), axis=1)
    assert cosines.min() > 0.999


@pytest.mark.integration
def test_a_tokenizer_error_reaches_the_caller(embedder, monkeypatch) -> None:
    model = embedder._model
    encoder = StreamEncoder(model[0].auto_model, model.tokenizer, device="cpu",
                            max_seq_length=model.max_seq_length, batch_size=2, window=2)

    def broken(texts, **_kwargs):
        if any("cat" in t for t in texts):
            raise RuntimeError("tokenizer failed on window 1")
        return model.tokenizer(texts, **_kwargs)

    monkeypatch.setattr(encoder, "tokenizer", broken)
    with pytest.raises(RuntimeError, match="window 1"):
        encoder.encode(TEXTS)


@pytest.mark.integration
def test_embedder_routes_batches_through_the_stream_path(embedder) -> None:
    streamed = Embedder(stream=True, stream_batch_size=4).load()
    assert streamed._stream is not None and streamed.name == embedder.name
    batch = streamed.encode(TEXTS)
    assert np.sum(batch * embedder.encode(TEXTS), axis=1).min() > 0.9999
    one = streamed.encode([TEXTS[3]])  # a single query keeps the direct path
    assert float(one[0] @ batch[3]) > 0.9999
    assert Embedder()._stream is None and not Embedder().stream  # CPU default: off
    assert Embedder(device="cuda").stream  # on by default on a GPU (not loaded here)
    with pytest.raises(ValueError, match="stream path"):
        Embedder(backend="onnx", stream=True)


@pytest.mark.integration
def test_on_cuda_with_pinned_memory_and_a_copy_stream(embedder) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no GPU here: the CPU tests above run the same logic")
    gpu = Embedder(device="cuda").load()
    assert gpu._stream.cuda and gpu._stream.fp16 and gpu._stream._copy_stream is not None
    cosines = np.sum(gpu.encode(TEXTS) * embedder.encode(TEXTS), axis=1)
    assert cosines.min() > 0.999
