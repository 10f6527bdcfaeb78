"""nblib.paths: root discovery (env override, installed package, working directory) and folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from nblib import paths

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("nbenv")


def test_nblib_root_overrides(nbenv):
    assert paths.repo_root() == nbenv.root.resolve()
    assert paths.notebooks_dir() == nbenv.root.resolve() / "notebooks"
    assert (
        paths.profiles_dir("01_fixture")
        == nbenv.root.resolve() / "notebooks" / "profiles" / "01_fixture"
    )
    assert (paths.profiles_dir("01_fixture") / "smoke.yaml").is_file()
    assert paths.figures_dir("01_fixture") == nbenv.root.resolve() / "figures" / "01_fixture"


def test_default_root_is_the_package_checkout_from_any_cwd(monkeypatch, tmp_path):
    monkeypatch.delenv("NBLIB_ROOT")
    monkeypatch.chdir(tmp_path)
    assert paths.repo_root() == REPO
    assert paths.notebooks_dir() == REPO / "notebooks"


def test_root_found_from_cwd_when_package_is_not_in_a_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv("NBLIB_ROOT")
    monkeypatch.setattr(paths, "__file__", str(tmp_path / "site-packages" / "nblib" / "paths.py"))
    root = tmp_path / "checkout"
    (root / "nblib").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'nblib'\n")
    (root / "notebooks" / "deep").mkdir(parents=True)
    monkeypatch.chdir(root / "notebooks" / "deep")
    assert paths.repo_root() == root
    # a pyproject.toml without nblib/ next to it is not the root
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("")
    with pytest.raises(FileNotFoundError, match="NBLIB_ROOT"):
        paths.repo_root()


def test_runs_dir_env_and_default(nbenv, monkeypatch):
    assert paths.runs_dir() == nbenv.runs
    monkeypatch.delenv("NBLIB_RUNS")
    assert paths.runs_dir() == nbenv.root.resolve() / "papermill_runs"


def test_cache_dir_created_and_overridable(nbenv, monkeypatch, tmp_path):
    path = paths.cache_dir("tokenizers", "bpe-512")
    assert path == tmp_path / "cache" / "tokenizers" / "bpe-512" and path.is_dir()
    monkeypatch.delenv("NBLIB_CACHE")
    path = paths.cache_dir("x")
    assert path == nbenv.root.resolve() / ".cache" / "x" and path.is_dir()


def test_checkpoints_dir_created_and_overridable(nbenv, monkeypatch, tmp_path):
    path = paths.checkpoints_dir("09_mlp", "seed0")
    assert path == nbenv.root.resolve() / "checkpoints" / "09_mlp" / "seed0"
    assert path.is_dir()
    assert isinstance(path, Path)
    monkeypatch.setenv("NBLIB_CHECKPOINTS", str(tmp_path / "elsewhere"))
    path = paths.checkpoints_dir("09_mlp")
    assert path == tmp_path / "elsewhere" / "09_mlp" and path.is_dir()
