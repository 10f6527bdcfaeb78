"""environment.yml mirrors pyproject.toml; the README's test command is what CI runs."""

import re
import tomllib

import yaml

from nblib.paths import repo_root

CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name where they differ


def _name(requirement: str) -> str:
    return re.split(r"[<>=!\[ ]", requirement, maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((repo_root() / "pyproject.toml").read_text())["project"]
    pip_reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    env = yaml.safe_load((repo_root() / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = {_name(d): d for d in env["dependencies"] if isinstance(d, str)}
    for req in pip_reqs:
        name = CONDA_NAMES.get(_name(req), _name(req))
        assert name in conda, f"{name} missing from environment.yml"
        assert conda[name].removeprefix(name) == req.removeprefix(_name(req)), f"ranges differ for {name}"
    assert any("-e .[dev]" in item for d in env["dependencies"] if isinstance(d, dict) for item in d["pip"])


def test_torch_range_admits_the_cpu_wheel():
    project = tomllib.loads((repo_root() / "pyproject.toml").read_text())["project"]
    torch_req = next(d for d in project["dependencies"] if _name(d) == "torch")
    assert torch_req == "torch>=2.4,<2.15"  # 2.13.0 (the CPU wheel CI installs first) is inside


def test_ci_runs_the_readme_test_command():
    readme = (repo_root() / "README.md").read_text()
    ci = (repo_root() / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci
