"""nblib.strip: git's clean filter for notebooks; a notebook saved after a JupyterLab session adds
nothing to `git diff` once `git add` ran it through the filter."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

from nblib.runner import list_notebooks
from nblib.strip import dumps, strip

NOTEBOOKS = list_notebooks()


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_committed_notebooks_are_what_the_filter_writes(nb_path):
    text = nb_path.read_text()
    assert dumps(strip(json.loads(text))) == text


def _saved_by_jupyterlab(nb: dict) -> dict:
    """What a session adds: outputs, counts, timing metadata, widget state, the kernel's info."""
    nb = json.loads(json.dumps(nb))
    nb["metadata"]["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.7", "mimetype":
                                       "text/x-python", "file_extension": ".py"}
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    for i, cell in enumerate(nb["cells"]):
        cell["metadata"]["scrolled"] = True
        cell["metadata"]["jp-MarkdownHeadingCollapsed"] = True
        if cell["cell_type"] == "code":
            cell["execution_count"] = i
            cell["metadata"]["execution"] = {"iopub.status.busy": "2026-12-02T08:00:00Z"}
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}]
    return nb


def test_a_notebook_saved_after_a_session_leaves_git_diff_clean(tmp_path):
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    source = REPO / "notebooks" / "09_mlp_in_context.ipynb"
    repo = tmp_path / "clone"
    (repo / "notebooks").mkdir(parents=True)
    (repo / ".gitattributes").write_text((REPO / ".gitattributes").read_text())
    target = repo / "notebooks" / source.name
    shutil.copy(source, target)

    def run(*args):
        return subprocess.run([git, *args], cwd=repo, capture_output=True, text=True, check=True)

    run("init", "-q")
    run("config", "user.email", "t@example.org")
    run("config", "user.name", "test")
    run("config", "filter.nblib-strip.clean", f"{sys.executable} -m nblib.strip")
    run("add", ".")
    run("commit", "-qm", "notebook")
    saved = _saved_by_jupyterlab(json.loads(source.read_text()))
    target.write_text(json.dumps(saved, indent=1) + "\n")
    run("add", f"notebooks/{source.name}")
    assert run("diff", "--cached", "--stat").stdout == ""  # nothing of the session was staged
    assert run("diff", "--stat").stdout == ""
    assert run("show", f"HEAD:notebooks/{source.name}").stdout == source.read_text()
    # a real edit still shows
    saved["cells"][0]["source"] = ["# changed\n"]
    target.write_text(json.dumps(saved, indent=1) + "\n")
    run("add", f"notebooks/{source.name}")
    assert "1 file changed" in run("diff", "--cached", "--stat").stdout
