"""Seeding, device and thread choice, and `env_info()` for run records."""

from __future__ import annotations

import hashlib
import numbers
import os
import platform
import random
import subprocess
from importlib import metadata
from typing import TYPE_CHECKING

import numpy as np

from nblib.paths import repo_root

if TYPE_CHECKING:  # imported where used: `python -m nblib list` must not wait for torch
    import torch


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def derive_seed(seed: int, *purpose: str | int) -> int:
    """A seed in [0, 2**63) for one purpose of one run, e.g. derive_seed(seed, "noise", i, draw):
    independent streams from numpy's SeedSequence (instead of offsets such as 10_000 + seed, which
    collide). Every part is one 64-bit word and the count of parts is mixed in, so
    (seed, "noise") and (seed, "noise", 0) differ."""
    words = [_word(seed, "seed"), *(_word(p, "purpose") for p in purpose)]
    entropy = [len(words)] + [w >> shift & 0xFFFF_FFFF for w in words for shift in (0, 32)]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> 1)


def _word(part: str | int, role: str) -> int:
    """One 64-bit word: an integer as it is, a string hashed."""
    if isinstance(part, str) and role == "purpose":
        return int.from_bytes(hashlib.blake2b(part.encode(), digest_size=8).digest(), "little")
    if isinstance(part, bool) or not isinstance(part, numbers.Integral):
        kinds = "a string or an int" if role == "purpose" else "an int"
        raise TypeError(f"derive_seed {role} {part!r}: expected {kinds}")
    if not 0 <= int(part) < 2**64:
        raise ValueError(f"derive_seed {role} {part!r}: seeds and integer purposes must be in "
                         "[0, 2**64)")
    return int(part)


def pick_device(preference: str = "auto") -> torch.device:
    """'auto' gives CUDA when present, else CPU; 'cpu' or 'cuda' force one (error if absent)."""
    import torch

    if preference not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device={preference!r}: must be one of ['auto', 'cpu', 'cuda']")
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but torch sees no CUDA device")
    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(preference)


def default_threads(workers: int = 1) -> int:
    """Torch threads for one of `workers` processes sharing this machine: cores // workers, capped
    by the cores other work leaves free (the 1-minute load average). On a busy machine two
    spinning OpenMP threads per process collapse (a probe on a loaded 2-core box: 3.5-4.9 s at one
    thread, 13.5-129.5 s at two), so a busy machine gets one thread."""
    cores = os.cpu_count() or 1
    share = max(1, cores // max(workers, 1))
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average on this platform
        return share
    return max(1, min(share, int(cores - load + 0.5)))


def set_threads(n: int | None = None) -> int:
    """Cap torch's intra-op threads: `n`, else $NBLIB_THREADS (set by the runner), else
    `default_threads()` (all cores on an idle machine, one on a busy one)."""
    import torch

    n = n or int(os.environ.get("NBLIB_THREADS", 0)) or default_threads()
    torch.set_num_threads(n)
    return n


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo_root(), capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def env_info() -> dict:
    """Versions, git SHA and dirty flag, device and threads: what a run record needs to be
    re-run. The flag ignores figures/ (what `make reference` publishes, run after run)."""
    import torch

    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)figures")
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
        "load_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
