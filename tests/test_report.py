"""nblib.report: an executed notebook as HTML without code; `build_all` renders what is missing and
builds the site (whose own tests are in test_site.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from test_site import _tables

from nblib.report import build_all, render_run

pytestmark = pytest.mark.usefixtures("nbenv")


@pytest.mark.notebooks
def test_render_run_hides_code_and_keeps_outputs(executed_run, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    nb = nbformat.read(Path(executed_run["dir"]) / "notebook.ipynb", as_version=4)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {},
                                                                            "version_major": 2}}
    nbformat.write(nb, run_dir / "notebook.ipynb")
    out = render_run(run_dir)
    assert out == run_dir / "report.html"
    page = out.read_text()
    assert "fixture says 42" in page  # the printed output
    assert "marker_value" not in page and "6 * 7" not in page  # the cell's source is not
    assert "default_rng" not in page and "nblib.configure" not in page
    assert "Fixture notebook" in page  # markdown stays
    assert "data:image/png;base64" in page  # the figure is embedded
    assert "SUPPORTED: a exceeds b" in page
    assert "In&nbsp;[" not in page and "In [" not in page  # no prompts
    assert "widget-state" not in page  # no widget state that needs a CDN at view time


@pytest.mark.notebooks
def test_build_all_renders_missing_reports(executed_run, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(Path(executed_run["dir"]), root / "01_fixture" / "copied")
    (root / "01_fixture" / "copied" / "report.html").unlink()
    index = build_all(root)
    report = root / "01_fixture" / "copied" / "report.html"
    assert "fixture says 42" in report.read_text()
    _, (row,) = _tables(index)  # (the reference table depends on the shared root's figures/)
    assert row[4][0] == "SUPPORTED" and row[8][0] == "ok"
    assert row[9][1] == ["01_fixture/copied/report.html", "01_fixture/copied/figures/samples.png"]
