"""nblib.site: the static report site over run records and the committed reference runs."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import REPO

from nblib.site import build_site, question

rec = importlib.import_module("nblib.record")
pytestmark = pytest.mark.usefixtures("nbenv")
PNG = (REPO / "figures" / "09_mlp_in_context" / "mse_vs_k.png").read_bytes()


class _Tables(HTMLParser):
    """Every table body of a page: tables -> rows -> (text, href) cells."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell, self._in_body = [], None, None, False

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self.tables.append([])
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ["", []]
        elif tag == "a" and self._cell is not None:
            self._cell[1].append(dict(attrs)["href"])

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self._row.append((self._cell[0], self._cell[1]))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None


def _tables(page: Path) -> list[list[list[tuple[str, list[str]]]]]:
    parser = _Tables()
    parser.feed(page.read_text())
    return parser.tables


def _targets(page: Path) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]+)"', page.read_text())


def _run(root, slug, run_id, *, status="ok", verdict=None, params=None, started, duration=None,
         report=True, figure=False):
    run_dir = root / slug / run_id
    fields = dict(notebook=slug, run_id=run_id, profile=run_id.split("-")[0], status=status,
                  params={**(params or {}), "interactive": False}, started=started, verdict=verdict)
    if duration is not None:
        fields.update(duration_s=duration, finished=started)
    rec.update_metrics(run_dir, **fields)
    if report:
        (run_dir / "report.html").write_text("<html></html>")
    if figure:
        (run_dir / "figures").mkdir()
        (run_dir / "figures" / "curve.png").write_bytes(PNG)
    return run_dir


def _verdict(label, value, low, high, claim="x > 0"):
    return {"label": label, "claim": claim, "threshold": 0.0, "direction": ">",
            "estimate": {"value": value, "low": low, "high": high, "level": 0.95, "n": 3}}


def _reference(figures: Path, slug: str, run_id: str, verdict: dict) -> None:
    (figures / slug).mkdir(parents=True)
    (figures / slug / "headline.png").write_bytes(PNG)
    (figures / slug / "reference_run.json").write_text(json.dumps({
        "notebook": slug, "run_id": run_id, "profile": "default", "params": {"interactive": False},
        "verdict": verdict, "duration_s": 186.1, "finished": "2026-11-22T07:57:58+00:00"}))


def test_question_is_the_notebook_title(nbenv, monkeypatch):
    assert question("01_fixture") == "Fixture notebook" and question("77_missing") == ""
    monkeypatch.setenv("NBLIB_ROOT", str(REPO))
    assert question("09_mlp_in_context") == ("Do MLPs learn in context, competitively with "
                                             "transformers at the same compute?")


def test_index_lists_reference_runs_and_every_run_with_relative_links(tmp_path):
    root, figures = tmp_path / "runs", tmp_path / "figures"
    _reference(figures, "01_fixture", "default-abc", _verdict("INCONCLUSIVE", 0.4, -0.1, 0.9))
    _run(root, "01_fixture", "default-abc", verdict=_verdict("INCONCLUSIVE", 0.4, -0.1, 0.9),
         started="2024-01-01T00:00:00+00:00", duration=186.1)  # the reference run's own record
    _run(root, "01_fixture", "smoke-1", verdict=_verdict("SUPPORTED", 1.0, 0.5, 1.5, "a > b"),
         params={"n": 6},
         started="2024-01-02T09:30:00+00:00", duration=3.6, figure=True)
    _run(root, "01_fixture", "smoke-2", status="failed", params={"n": 7},
         started="2024-01-03T00:00:00+00:00",
         report=False)
    _run(root, "02_other", "smoke-3", verdict="NOT SUPPORTED", started="2024-01-04T00:00:00+00:00")
    index = build_site(root, figures=figures)
    assert index == root / "index.html"
    page = index.read_text()
    assert "1 notebook(s)" in page and "4 run(s)" in page
    references, runs = _tables(index)
    (ref,) = references
    texts = [t for t, _ in ref]
    assert texts[:9] == ["01_fixture", "Fixture notebook", "default", "(defaults)", "INCONCLUSIVE",
                         "0.4 [-0.1, 0.9]", "186", "2026-11-22 07:57", "reference"]
    assert ref[0][1] == ["01_fixture/index.html"]
    assert ref[9][1] == ["01_fixture/default-abc/report.html", "../figures/01_fixture/headline.png"]
    # by notebook, date
    assert [[t for t, _ in r][0] for r in runs] == ["01_fixture"] * 3 + ["02_other"]
    smoke1, failed, other = runs[1], runs[2], runs[3]
    assert [t for t, _ in smoke1][2:9] == [
        "smoke",
        "n=6",
        "SUPPORTED",
        "1 [0.5, 1.5]",
        "4",
        "2024-01-02 09:30",
        "ok",
    ]
    assert smoke1[9][1] == [
        "01_fixture/smoke-1/report.html",
        "01_fixture/smoke-1/figures/curve.png",
    ]
    assert [t for t, _ in failed][4:9] == ["", "", "", "2024-01-03 00:00", "failed"] and failed[9][
        1
    ] == []
    assert [t for t, _ in other][1] == "" and [t for t, _ in other][4] == "NOT SUPPORTED"
    assert 'title="a &gt; b"' in page  # the claim is the verdict's tooltip
    for page in [index, *root.glob("*/index.html")]:  # offline: every link is a relative file path
        for target in _targets(page):
            assert (
                not target.startswith(("/", "http")) and (page.parent / unquote(target)).is_file()
            ), target


def test_notebook_page_compares_runs_and_plots_a_sweep_per_profile(tmp_path):
    root, figures = tmp_path / "runs", tmp_path / "figures"
    _reference(figures, "01_fixture", "default-abc", _verdict("SUPPORTED", 1.0, 0.5, 1.5))
    for i, lr in enumerate([1e-3, 1e-2, 1e-1]):
        _run(root, "01_fixture", f"smoke-{i}", verdict=_verdict("SUPPORTED", lr * 10, lr, lr * 20),
             params={"lr": lr, "n": 6}, started=f"2024-01-0{i + 1}T00:00:00+00:00", duration=3)
    _run(root, "01_fixture", "smoke-9", status="failed", params={"lr": 0.5, "n": 6},
         started="2024-01-09T00:00:00+00:00")
    _run(root, "01_fixture", "default-1", verdict=_verdict("SUPPORTED", 1, 0, 2), params={"n": 9},
         started="2024-01-05T00:00:00+00:00")  # another profile: not part of the smoke sweep
    stale = root / "01_fixture" / "sweep_smoke_old.png"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(PNG)
    build_site(root, figures=figures)
    page = root / "01_fixture" / "index.html"
    text = page.read_text()
    assert "Fixture notebook" in text and "5 run(s)" in text
    # the reference run's figures, inline
    assert 'src="../../figures/01_fixture/headline.png"' in text
    assert sorted(p.name for p in page.parent.glob("sweep_*.png")) == ["sweep_smoke_lr.png"]
    assert (
        'src="sweep_smoke_lr.png"' in text
        and (page.parent / "sweep_smoke_lr.png").stat().st_size > 5000
    )
    (runs,) = _tables(page)
    assert [r[0][0] for r in runs] == ["smoke", "smoke", "smoke", "default", "smoke"]
    assert runs[-1][6][0] == "failed"
    assert '<a href="../index.html">' in text


def test_reference_figures_follow_the_notebook_order_with_captions(tmp_path):
    root, figures = tmp_path / "runs", tmp_path / "figures"
    _reference(figures, "01_fixture", "default-abc", _verdict("SUPPORTED", 1.0, 0.5, 1.5))
    (figures / "01_fixture" / "another.png").write_bytes(PNG)
    record = json.loads((figures / "01_fixture" / "reference_run.json").read_text())
    record["figures"] = [{"name": "headline", "caption": "The headline, first"},
                         {"name": "another", "caption": "Made second"}]
    (figures / "01_fixture" / "reference_run.json").write_text(json.dumps(record))
    build_site(root, figures=figures)
    text = (root / "01_fixture" / "index.html").read_text()
    assert text.index("headline.png") < text.index("another.png")  # not alphabetical
    assert "<figcaption>The headline, first</figcaption>" in text
    assert "<figcaption>Made second</figcaption>" in text


def test_an_interactive_run_shows_the_values_it_really_used(nbenv, tmp_path):
    from nblib.runner import parameters_cell

    declared = parameters_cell(nbenv.notebook)
    root = tmp_path / "runs"
    run_dir = root / "01_fixture" / "interactive"
    rec.update_metrics(run_dir, notebook="01_fixture", run_id="interactive", status="interactive",
                       profile="interactive", started="2024-01-01T00:00:00+00:00",
                       config={**declared, "lr": 0.02, "interactive": True})
    build_site(root, figures=tmp_path / "none")
    _, (row,) = _tables(root / "index.html")
    assert row[3][0] == "lr=0.02"  # not "(defaults)": the value the notebook was edited to


def test_site_escapes_html(tmp_path):
    root = tmp_path / "runs"
    _run(root, "01_fixture", "smoke-1",
         verdict=_verdict("SUPPORTED", 1, 0, 2, "<script>x</script> & y"),
         params={"mode": "<b>"}, started="2024-01-01T00:00:00+00:00")
    page = build_site(root, figures=tmp_path / "none").read_text()
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt; &amp; y" in page
    assert "<b>" not in page.split("<body>")[1].replace("<b>Fixture", "")


def test_empty_site(nbenv, tmp_path):
    # a figures folder of its own: the shared fixture root gets a reference run from test_runner
    index = build_site(figures=tmp_path / "figures")
    assert index == nbenv.runs / "index.html"
    assert "0 notebook(s)" in index.read_text() and "0 run(s)" in index.read_text()
    assert _tables(index) == [[], []]


def test_every_committed_reference_run_is_listed(tmp_path, monkeypatch):
    """The real figures/: each notebook's reference run is a row with its verdict and figures."""
    monkeypatch.setenv("NBLIB_ROOT", str(REPO))
    refs = {
        p.parent.name: json.loads(p.read_text())
        for p in (REPO / "figures").glob("*/reference_run.json")
    }
    assert refs  # the project has reference runs
    shutil.copytree(REPO / "figures", tmp_path / "figures")
    index = build_site(tmp_path / "runs", figures=tmp_path / "figures")
    references, _ = _tables(index)
    listed = {row[0][0]: row for row in references}
    assert set(listed) == set(refs)
    for slug, ref in refs.items():
        row = listed[slug]
        assert row[1][0] and row[4][0] == ref["verdict"]["label"] and row[8][0] == "reference"
        assert {Path(h).name for h in row[9][1]} == {
            p.name for p in (REPO / "figures" / slug).glob("*.png")
        }


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_running_run_whose_process_died_shows_as_stale(tmp_path):
    root, host = tmp_path / "runs", os.uname().nodename
    owners = {"smoke-dead": (_dead_pid(), host), "smoke-live": (os.getpid(), host),
              "smoke-away": (_dead_pid(), "another-host"), "smoke-old": (None, None)}
    for i, (run_id, (pid, where)) in enumerate(owners.items()):
        run_dir = _run(root, "01_fixture", run_id, status="running", params={"seed": i},
                       started=f"2024-01-0{i + 1}T00:00:00+00:00", report=False)
        rec.update_metrics(run_dir, **({"pid": pid, "host": where} if pid else {}))
    (runs,) = _tables(build_site(root, figures=tmp_path / "none").parent / "01_fixture"
                      / "index.html")
    assert [r[6][0] for r in runs] == ["stale", "running", "running", "running"]
    table = rec.load_runs(root)
    assert dict(zip(table.run_id, table.status, strict=True)) == {
        "smoke-dead": "stale", "smoke-live": "running", "smoke-away": "running",
        "smoke-old": "running"}
    assert rec.read_json(root / "01_fixture" / "smoke-dead" / "metrics.json")["status"] == "running"


def test_a_forced_reruns_attempt_folders_are_not_runs(tmp_path):
    root = tmp_path / "runs"
    _run(root, "01_fixture", "smoke-1", started="2024-01-01T00:00:00+00:00")
    for attempt in ("smoke-1.new-123", "smoke-1.old-123", "smoke-1.failed"):
        _run(root, "01_fixture", attempt, status="failed", started="2024-01-02T00:00:00+00:00")
    index = build_site(root, figures=tmp_path / "none")
    assert "1 run(s)" in index.read_text()
    assert [r[8][0] for r in _tables(index)[1]] == ["ok"]
    assert rec.load_runs(root).run_id.tolist() == ["smoke-1"]
