"""Seeding, device and thread choice, and `env_info()` for run records."""

from __future__ import annotations

import hashlib
import os
import platform
import random
import subprocess
from importlib import metadata

import numpy as np
import torch

from nblib.paths import repo_root


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def derive_seed(seed: int, *purpose: str | int) -> int:
    """A seed for one purpose of one run, e.g. derive_seed(seed, "noise", i, draw): independent
    streams from numpy's SeedSequence (instead of offsets such as 10_000 + seed, which collide)."""
    words = [seed, *[_word(p) for p in purpose]]
    if any(w < 0 for w in words):
        raise ValueError(f"derive_seed{(seed, *purpose)}: seeds and integer purposes must be >= 0")
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0] >> 1)


def _word(part: str | int) -> int:
    if isinstance(part, bool) or not isinstance(part, int | str):
        raise TypeError(f"derive_seed purpose {part!r}: expected a string or an int")
    if isinstance(part, int):
        return part
    return int.from_bytes(hashlib.blake2b(part.encode(), digest_size=8).digest(), "little")


def pick_device(preference: str = "auto") -> torch.device:
    """'auto' gives CUDA when present, else CPU; 'cpu' or 'cuda' force one (error if absent)."""
    if preference not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device={preference!r}: must be one of ['auto', 'cpu', 'cuda']")
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but torch sees no CUDA device")
    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(preference)


def set_threads(n: int | None = None) -> int:
    """Cap torch's intra-op threads: `n`, else $NBLIB_THREADS (set by the runner), else all cores."""
    n = n or int(os.environ.get("NBLIB_THREADS", 0)) or os.cpu_count() or 1
    torch.set_num_threads(n)
    return n


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def env_info() -> dict:
    """Versions, git SHA and dirty flag, device and threads: what a run record needs to be re-run."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        **{pkg: _version(pkg) for pkg in ("nblib", "transformers", "papermill")},
        "git_sha": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "device": str(pick_device()),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
