"""The ONNX Runtime backends: the same vectors as torch, a cached export, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from indexes import embedder_onnx
from indexes.embedder import BACKENDS, Embedder

pytest.importorskip("onnxruntime")

TEXTS = [
    "hi",
    "a cat sat on the mat",
    "What is the best thing to do in San Francisco on a sunny day?",
    "Who was the first president of the association which published Journal of "
    "Psychotherapy Integration?",
    "Stock markets fell sharply on Tuesday after the central bank raised interest rates.",
    "The Journal of Mathematical Physics is a peer-reviewed journal published monthly by the "
    "American Institute of Physics devoted to the publication of papers in mathematical physics.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "def encode(texts): return model(texts)",
    "The 1998 FIFA World Cup final was held at the Stade de France in Saint-Denis.",
    "Mount Everest, at 8,849 metres, is Earth's highest mountain above sea level.",
    "She was born and raised in Stockholm and released her first album in 2007.",
    "Enzymes lower the activation energy of biochemical reactions.",
    "   leading and trailing whitespace   ",
    "UPPERCASE HEADLINE: STORM HITS THE COAST",
    "Le musée du Louvre est le plus grand musée d'art du monde.",
    "Die Berliner Mauer fiel am 9. November 1989.",
    "El río Amazonas es el más caudaloso del mundo.",
    "猫が好きです。東京は日本の首都です。",
    "北京是中华人民共和国的首都，也是政治和文化中心。",
    "서울은 대한민국의 수도이다.",
    "Москва — столица России.",
    "12345 67890 3.14159 2.71828",
    "Email me at someone@example.com or call +1 555 0100.",
    "The mitochondria is the powerhouse of the cell; it produces ATP through respiration.",
    "In 1905 Albert Einstein published four papers that changed physics: the photoelectric "
    "effect, Brownian motion, special relativity and mass-energy equivalence.",
    "the haystack goes on " * 200,  # past max_seq_length (256 tokens): truncated alike
    " ".join(f"Sentence number {i} talks about topic {i % 7} in a long document." for i in range(80)),
    "東京タワーは高さ333メートルの電波塔である。" * 40,  # long CJK, truncated
    "Climate dynamics studies the large-scale circulation of the atmosphere and ocean, "
    "the coupling between them, and their variability on seasonal to centennial time scales.",
    "Will to Love is a song written and recorded by Neil Young.",
    "A kitten sleeping in the sun.",
    "interest rates of the central bank",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.mark.unit
def test_bad_backend_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown embedder backend 'onnx-int4'.*torch, onnx, onnx-int8"):
        Embedder(backend="onnx-int4")
    with pytest.raises(ValueError, match="CPU only"):
        Embedder(backend="onnx", device="cuda")
    assert BACKENDS == ("torch", "onnx", "onnx-int8")


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_vectors_agree_with_torch(embedder, cache_dir, backend) -> None:
    reference = embedder.encode(TEXTS)
    onnx = Embedder(backend=backend, cache_dir=cache_dir, batch_size=8).load()
    vectors = onnx.encode(TEXTS)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    assert vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosines = np.sum(vectors * reference, axis=1)
    worst = int(np.argmin(cosines))
    # float32 ONNX is the same embedder (0.99 on every vector, in practice 0.9999+); int8
    # stays near it (~0.986 worst, on "hi", on an AVX2 CPU) but under the bar, so it pins
    # a name of its own.
    bar, same_name = (0.99, True) if backend == "onnx" else (0.98, False)
    assert cosines.min() >= bar, f"{backend}: cosine {cosines[worst]:.4f} on {TEXTS[worst][:40]!r}"
    assert cosines.mean() >= 0.995
    one = onnx.encode([TEXTS[2]])  # a single query, no batch-mates
    assert one.shape == (1, 384) and float(one[0] @ reference[2]) >= bar
    assert (onnx.name == embedder.name) is same_name and onnx.dim == 384
    assert onnx.count_tokens("hello world") == 2
    assert onnx.encode([]).shape == (0, 384)


@pytest.mark.integration
def test_second_construction_reuses_the_cached_export(cache_dir, monkeypatch) -> None:
    Embedder(backend="onnx-int8", cache_dir=cache_dir).load()  # exported (or reused) here
    files = sorted(p.relative_to(cache_dir) for p in cache_dir.rglob("*.onnx"))
    assert len(files) == 2 and files[0].parent.name.startswith("model-")  # keyed by the weights hash

    def fail(*_args, **_kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(embedder_onnx, "export_onnx", fail)
    monkeypatch.setattr(embedder_onnx, "quantize_int8", fail)
    again = Embedder(backend="onnx-int8", cache_dir=cache_dir).load()
    assert again.encode(["a cat"]).shape == (1, 384)
    assert sorted(p.relative_to(cache_dir) for p in cache_dir.rglob("*.onnx")) == files


@pytest.mark.unit
def test_fast_tokenizer_gives_the_transformers_ids() -> None:
    """encode tokenizes with `tokenizers` alone; the ids are AutoTokenizer's, truncation
    to the model's 256 tokens included."""
    from transformers import AutoTokenizer

    from indexes.embedder import resolve_model_path

    path = resolve_model_path("all-MiniLM-L6-v2")
    reference = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    fast = embedder_onnx.fast_tokenizer(path, 256)
    texts = [t.strip() for t in TEXTS]
    expected = reference(texts, truncation=True, max_length=256)["input_ids"]
    assert [e.ids for e in fast.encode_batch(texts)] == expected
    assert max(len(row) for row in expected) == 256  # the long texts were truncated


@pytest.mark.integration
def test_a_cached_onnx_query_imports_neither_torch_nor_transformers(cache_dir) -> None:
    """With the export cached, a query through the onnx backend starts without torch,
    transformers or sentence-transformers (seconds of every cold CLI ask, issue 19.7)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    Embedder(backend="onnx", cache_dir=cache_dir).load()  # export (or reuse) here
    code = ("import json, sys\nfrom indexes.embedder import Embedder\n"
            f"e = Embedder(backend='onnx', cache_dir={str(cache_dir)!r})\n"
            "v = e.encode(['a cat sat on the mat'])\n"
            "print(json.dumps({'shape': list(v.shape), 'heavy': sorted(m for m in "
            "('torch', 'transformers', 'sentence_transformers') if m in sys.modules)}))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=300,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found == {"shape": [1, 384], "heavy": []}
