"""nblib.report: an executed notebook as HTML without code, and an index over runs."""

from __future__ import annotations

import importlib
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from nblib.report import build_all, build_index, render_run

rec = importlib.import_module("nblib.record")
pytestmark = pytest.mark.usefixtures("nbenv")


class _Table(HTMLParser):
    """Rows of the index table: each a list of (text, href) cells."""

    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell, self._in_body = [], None, None, False

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ["", None]
        elif tag == "a" and self._cell is not None:
            self._cell[1] = dict(attrs)["href"]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append(tuple(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None


def _rows(index: Path) -> list[list[tuple[str, str | None]]]:
    parser = _Table()
    parser.feed(index.read_text())
    return parser.rows


@pytest.mark.notebooks
def test_render_run_hides_code_and_keeps_outputs(executed_run, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    nb = nbformat.read(Path(executed_run["dir"]) / "notebook.ipynb", as_version=4)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
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


def _run(root, slug, run_id, *, status="ok", verdict=None, params=None, started, duration=None,
         report=True):
    run_dir = root / slug / run_id
    fields = dict(notebook=slug, run_id=run_id, profile=run_id.split("-")[0], status=status,
                  params=params or {}, started=started, verdict=verdict)
    if duration is not None:
        fields.update(duration_s=duration, finished=started)
    rec.update_metrics(run_dir, **fields)
    if report:
        (run_dir / "report.html").write_text("<html></html>")
    (run_dir / "notebook.ipynb").write_text("{}")
    return run_dir


def test_build_index_lists_runs_with_verdict_status_and_relative_links(tmp_path):
    root = tmp_path / "runs"
    _run(root, "02_b", "smoke-2", verdict={"label": "NOT SUPPORTED", "claim": "b < c"},
         params={"lr": 0.1, "interactive": False}, started="2024-01-02T10:00:00+00:00", duration=12.4)
    _run(root, "01_a", "smoke-1", verdict={"label": "SUPPORTED", "claim": "a > 0"},
         params={"n": 6, "interactive": False}, started="2024-01-01T09:30:00+00:00", duration=3.6)
    _run(root, "01_a", "default-9", status="failed", params={"interactive": False},
         started="2024-01-03T00:00:00+00:00", report=False)
    _run(root, "01_a", "interactive", status="interactive", verdict="INCONCLUSIVE",
         started="2024-01-04T00:00:00+00:00")  # a verdict recorded as a bare label
    index = build_index(root)
    assert index == root / "index.html"
    page = index.read_text()
    assert "4 run(s)" in page
    rows = _rows(index)
    texts = [[t for t, _ in r] for r in rows]
    assert [t[0] for t in texts] == ["01_a", "01_a", "01_a", "02_b"]  # by notebook, then start
    a1, a_failed, a_inter, b2 = texts
    assert a1[:8] == ["01_a", "smoke", "n=6", "SUPPORTED", "a > 0", "4 s", "ok", "2024-01-01 09:30"]
    assert a_failed[2:7] == ["(defaults)", "", "", "", "failed"]
    assert a_inter[3] == "INCONCLUSIVE" and a_inter[6] == "interactive"
    assert b2[2:7] == ["lr=0.1", "NOT SUPPORTED", "b < c", "12 s", "ok"]
    links = [[h for _, h in r if h] for r in rows]
    assert links[0] == ["01_a/smoke-1/report.html", "01_a/smoke-1/notebook.ipynb"]
    assert links[1] == ["01_a/default-9/notebook.ipynb"]  # no report.html, no link
    assert links[3] == ["02_b/smoke-2/report.html", "02_b/smoke-2/notebook.ipynb"]
    for href in sum(links, []):
        assert not href.startswith("/") and (root / href).is_file()
    assert 'style="color:#1a7f37;font-weight:600">SUPPORTED' in page
    assert 'style="color:#cf222e;font-weight:600">failed' in page


def test_build_index_escapes_html(tmp_path):
    root = tmp_path / "runs"
    _run(root, "01_a", "smoke-1", verdict={"label": "SUPPORTED", "claim": "<script>x</script> & y"},
         started="2024-01-01T00:00:00+00:00")
    page = build_index(root).read_text()
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt; &amp; y" in page


def test_build_index_of_no_runs(nbenv):
    index = build_index()
    assert index == nbenv.runs / "index.html"
    assert "0 run(s)" in index.read_text() and _rows(index) == []


@pytest.mark.notebooks
def test_build_all_renders_missing_reports(executed_run, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(Path(executed_run["dir"]), root / "01_fixture" / "copied")
    (root / "01_fixture" / "copied" / "report.html").unlink()
    index = build_all(root)
    report = root / "01_fixture" / "copied" / "report.html"
    assert "fixture says 42" in report.read_text()
    (row,) = _rows(index)
    assert row[3][0] == "SUPPORTED" and row[6][0] == "ok"
    assert row[8][1] == "01_fixture/copied/report.html"
