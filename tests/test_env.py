"""nblib.env: seeding, device choice, thread caps and env_info (git SHA and dirty flag)."""

from __future__ import annotations

import random
import subprocess

import numpy as np
import pytest
import torch

from nblib import env

pytestmark = pytest.mark.usefixtures("nbenv")


def _draw():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_seed_everything_reproduces_python_numpy_and_torch():
    env.seed_everything(123)
    first = _draw()
    env.seed_everything(123)
    assert _draw() == first
    env.seed_everything(124)
    assert _draw() != first
    env.seed_everything(2**40 + 5)  # numpy needs a 32-bit seed; larger seeds are folded
    assert len(_draw()) == 3


def test_pick_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert env.pick_device() == torch.device(expected)
    assert env.pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"device='gpu': must be one of \['auto', 'cpu', 'cuda'\]"):
        env.pick_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            env.pick_device("cuda")


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("restore_threads")
def test_set_threads(monkeypatch):
    assert env.set_threads(1) == 1 and torch.get_num_threads() == 1
    monkeypatch.setenv("NBLIB_THREADS", "2")
    assert env.set_threads() == 2 and torch.get_num_threads() == 2
    assert env.set_threads(1) == 1  # an explicit count beats the environment
    monkeypatch.delenv("NBLIB_THREADS")
    monkeypatch.setattr(env, "default_threads", lambda workers=1: 7)
    assert env.set_threads() == 7  # unset: the load-aware default


@pytest.mark.parametrize("cores, load, workers, expected", [
    (2, 0.0, 1, 2),  # idle: every core
    (2, 0.8, 1, 1),  # one other busy process: the core it leaves
    (2, 7.5, 1, 1),  # a busy box: one thread, never zero
    (16, 0.0, 4, 4),  # workers share the cores
    (16, 13.2, 4, 3),  # ... and the load caps the share
])
def test_default_threads_follows_cores_workers_and_load(monkeypatch, cores, load, workers,
                                                         expected):
    monkeypatch.setattr(env.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(env.os, "getloadavg", lambda: (load, load, load))
    assert env.default_threads(workers) == expected


def test_env_info_outside_git(nbenv):
    info = env.env_info()
    assert info["python"].count(".") == 2
    assert info["torch"] == torch.__version__ and info["numpy"] == np.__version__
    assert info["nblib"] and info["papermill"]
    assert info["git_sha"] is None and info["git_dirty"] is None  # the fixture root is no git repo
    assert info["device"] in ("cpu", "cuda")
    assert info["threads"] == torch.get_num_threads() and info["cpu_count"] >= 1


def _git(root, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c",
                    "commit.gpgsign=false",
                    *args], cwd=root, check=True, capture_output=True)


def test_env_info_git_sha_and_dirty_flag(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / "nblib").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\n")
    (root / "nblib" / "x.py").write_text("x = 1\n")
    (root / "figures").mkdir()
    (root / "figures" / "r.json").write_text("{}\n")
    monkeypatch.setenv("NBLIB_ROOT", str(root))
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "init")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                         text=True).stdout.strip()
    info = env.env_info()
    assert info["git_sha"] == sha and len(sha) == 40
    assert info["git_dirty"] is False
    (root / "untracked.txt").write_text("not part of the code\n")
    assert env.env_info()["git_dirty"] is False  # untracked files do not make a run dirty
    (root / "figures" / "r.json").write_text('{"published": 1}\n')
    assert env.env_info()["git_dirty"] is False  # nor do published reference figures
    (root / "nblib" / "x.py").write_text("x = 2\n")
    assert env.env_info()["git_dirty"] is True


def test_derive_seed_is_deterministic_and_in_range():
    a = env.derive_seed(3, "noise", 1)
    assert a == env.derive_seed(3, "noise", 1) and isinstance(a, int)
    assert env.derive_seed(3, "noise", np.int64(1)) == a  # numpy integers are integers
    seeds = [env.derive_seed(s, p, i) for s in range(4) for p in ("init", "data") for i in range(3)]
    assert all(0 <= s < 2**63 for s in seeds)
    torch.Generator().manual_seed(seeds[0])  # usable as a torch seed
    np.random.default_rng(seeds[0])
    env.seed_everything(seeds[0])


def test_derive_seed_distinct_across_seeds_and_purposes():
    keys = [(s, *p) for s in (0, 1, 2, 10_000) for p in [(), ("noise",), ("data",), ("noise", 0),
                                                         ("noise", 1), ("noise", 0, 0), (0,),
                                                         (0, 0), (1,), (2**32,), (0, 1)]]
    seeds = [env.derive_seed(*k) for k in keys]
    assert len(set(seeds)) == len(keys)  # trailing zeros and word splits do not collide
    assert env.derive_seed(0, 1) != env.derive_seed(1, 0)  # order matters
    assert env.derive_seed(3, "noise") != 3 and env.derive_seed(0) != env.derive_seed(10_000)


@pytest.mark.parametrize("args, error", [((-1,), ValueError), ((0, -2), ValueError),
                                         ((2**64,), ValueError), ((1.5,), TypeError),
                                         (("a",), TypeError), ((0, 1.0), TypeError),
                                         ((0, True), TypeError), ((True,), TypeError),
                                         ((0, None), TypeError)])
def test_derive_seed_rejects_bad_input(args, error):
    with pytest.raises(error, match="derive_seed"):
        env.derive_seed(*args)
