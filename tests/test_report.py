"""nblib.report: an executed notebook as HTML without code; `build_all` renders what is missing and
builds the site (whose own tests are in test_site.py)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from test_site import _tables

from nblib.report import build_all, is_reference_config, render_run, verdict_box

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
def test_a_report_opens_with_its_verdict_and_never_waits_on_the_network(executed_run, tmp_path):
    run_dir = Path(executed_run["dir"])
    page = (run_dir / "report.html").read_text()
    body = page[page.index("<body"):]
    assert body.index("nblib-verdict") < body.index("fixture says 42")  # the box comes first
    box = body[body.index("nblib-verdict"):body.index("fixture says 42")]
    assert "SUPPORTED" in box and "a exceeds b" in box
    assert "Smoke run: a check that the code runs" in box  # the fixture ran at smoke
    assert f"run <code>{executed_run['run_id']}</code>" in box and "commit <code>" in box
    assert "<title>01_fixture · smoke · SUPPORTED</title>" in page
    assert "require.min.js" not in page  # nothing blocks on a CDN
    assert all(" async " in tag for tag in re.findall(r"<script[^>]* src=\"http[^>]*>", page))
    assert "fixture progress 50%" not in page  # stderr (progress bars) is stripped
    assert "ConfigForm" not in page  # the interactive cell is left out
    # a smoke run does not carry the reference run's prose as if it described its own numbers
    assert "fixture prose about the reference run" not in page
    assert "interpretation is left out of this report" in page


def test_the_reference_configuration_is_the_default_profile_without_overrides():
    assert is_reference_config({"profile": "default", "params": {"interactive": False}})
    assert not is_reference_config({"profile": "default", "params": {"seeds": 2}})
    assert not is_reference_config({"profile": "smoke", "params": {}})


def test_the_box_names_the_component_that_decided_a_compound_verdict():
    part = {"value": 0.04, "low": 0.017, "high": 0.06, "level": 0.95, "n": 6, "unit": "runs"}
    m = {"notebook": "14_x", "profile": "default", "run_id": "default", "finished": "2026-12-02",
         "env": {"git_sha": "abcdef123456", "git_dirty": False},
         "verdict": {"label": "INCONCLUSIVE", "claim": "U-shaped", "estimate": part,
                     "threshold": 0.0, "direction": ">",
                     "details": {"end_slope": {**part, "value": -0.0017, "low": -0.016,
                                               "high": 0.0127}, "vertex_tpp": 98.5}}}
    box = verdict_box(m, "Are overtrained models harder to fine-tune?")
    assert "Are overtrained models harder to fine-tune?" in box and "U-shaped" in box
    assert "0.04 [0.017, 0.06] (95% CI, n = 6 runs)" in box
    assert "<b>end_slope</b>: -0.0017 [-0.016, 0.0127]" in box  # the deciding end-slope
    assert "commit <code>abcdef1</code>" in box and "Smoke run" not in box
    parts = {"gap": {"label": "NOT SUPPORTED", "claim": "gap closed", "estimate": part}}
    m["verdict"]["details"] = {"parts": parts}
    assert "<b>gap</b>:" in verdict_box(m, "q") and "NOT SUPPORTED" in verdict_box(m, "q")
    assert "No verdict recorded (run failed: RuntimeError: x)" in verdict_box(
        {"status": "failed", "error": "RuntimeError: x"}, "q").replace("<b>", "").replace(
        "</b>", "")


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
