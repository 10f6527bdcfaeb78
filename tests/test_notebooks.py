"""Every notebook: committed clean, parameters cell == config,
profiles valid, smoke run through the runner."""

import dataclasses
import math

import nbformat
import pytest

from nblib.config import NotebookConfig, configure, unclassified
from nblib.runner import (
    RunSpec,
    config_class,
    list_notebooks,
    parameters_cell,
    profiles,
    run_notebook,
)
from nblib.stats import LABELS

NOTEBOOKS = list_notebooks()
IDS = [nb.stem for nb in NOTEBOOKS]
# a hang guard, not a speed test: the slowest smoke cell took 80 s on an idle 2-core machine (03's
# grid), so a machine 20 times slower (or busy with other work) still passes; speed: benchmarks/
CELL_TIMEOUT_S = 1800


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs_or_papermill_metadata(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    nbformat.validate(nb)
    assert "papermill" not in nb.metadata, (
        "papermill metadata committed: was a run written over its input?"
    )
    assert "widgets" not in nb.metadata
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        assert "injected-parameters" not in tags, "an injected-parameters cell was committed"
        assert "papermill" not in cell.metadata
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"outputs committed:\n{cell.source[:80]}"
            )


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_report_tags_mark_the_interactive_cells_and_the_reference_interpretation(nb_path):
    """Reports leave out cells tagged `interactive` and, for any run but the reference
    configuration, the one cell tagged `reference-interpretation` (nblib.report)."""
    from nblib.report import INTERACTIVE, INTERPRETATION

    nb = nbformat.read(nb_path, as_version=4)
    tagged = [c for c in nb.cells if INTERPRETATION in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "markdown"
    assert tagged[0].source.startswith("**What the reference run shows**")
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("if cfg.interactive"):
            assert INTERACTIVE in cell.metadata.get("tags", []), cell.source[:80]


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_parameters_cell_is_the_config(nb_path):
    declared = parameters_cell(nb_path)
    cls = config_class(nb_path)
    assert cls is not None, "metadata.nblib.config must name the notebook's config dataclass"
    assert list(declared) == [f.name for f in dataclasses.fields(cls)], (
        "parameters cell and config disagree"
    )
    assert declared["interactive"] is True
    configure(cls, declared)  # the defaults themselves validate


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_papermill_parses_every_parameter(nb_path):
    """papermill reads each line of the parameters cell (an `=` inside a comment, say, makes it
    skip the line with only a warning, and then `-p name value` overrides would not reach it)."""
    import papermill

    assert list(papermill.inspect_notebook(str(nb_path))) == list(parameters_cell(nb_path))


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_every_field_says_what_it_affects(nb_path):
    """Cached results are keyed by the fields of their stages: an unclassified field could
    silently reuse stale results."""
    cls = config_class(nb_path)
    assert issubclass(cls, NotebookConfig), f"{cls.__name__} must subclass NotebookConfig"
    assert unclassified(cls) == [], f"fields of {cls.__name__} without affects=..."


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_notebook_package_is_named_after_the_notebook(nb_path):
    """nblib/experiments/<slug without its number>/ holds the config, SLUG, QUESTION, FIGURE."""
    import importlib

    cls = config_class(nb_path)
    name = nb_path.stem.split("_", 1)[1]
    assert cls.__module__.startswith(f"nblib.experiments.{name}"), cls.__module__
    pkg = importlib.import_module(f"nblib.experiments.{name}")
    assert pkg.SLUG == nb_path.stem and pkg.QUESTION and pkg.FIGURE


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_profiles_validate_and_smoke_exists(nb_path):
    names = profiles(nb_path.stem)
    assert {"default", "smoke", "full"} <= set(names)
    for profile in names:
        assert RunSpec(nb_path, profile).parameters()["interactive"] is False


@pytest.mark.notebooks
@pytest.mark.usefixtures("prepared")
@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_smoke_run(nb_path, tmp_path, monkeypatch):
    monkeypatch.setenv("NBLIB_CHECKPOINTS", str(tmp_path / "checkpoints"))  # trains afresh
    result = run_notebook(RunSpec(nb_path, "smoke"), root=tmp_path, timeout=CELL_TIMEOUT_S)
    assert result["status"] == "ok", result.get("error")
    assert (tmp_path / nb_path.stem / result["run_id"] / "report.html").is_file()
    verdict = result["verdict"]
    assert verdict["label"] in LABELS
    est = verdict["estimate"]
    assert est["low"] <= est["value"] <= est["high"]
    assert all(map(math.isfinite, (est["low"], est["high"])))
    invariants = result["values"]["invariants"]
    assert invariants and all(invariants.values()), invariants
    assert result["env"]["torch"] and result["duration_s"] > 0
    assert list((tmp_path / nb_path.stem / result["run_id"] / "figures").glob("*.png"))


# a training notebook (04: models trained from scratch, sampled) and the pretrained-model one (12)
DETERMINISTIC = ["04_kshot_objective", "12_anti_sycophancy"]


@pytest.mark.notebooks
@pytest.mark.usefixtures("prepared")
@pytest.mark.parametrize("slug", DETERMINISTIC)
def test_the_same_smoke_run_twice_records_the_same_values(slug, tmp_path, monkeypatch):
    """Every recorded value and verdict (timings aside) is a function of the parameters: two
    runs, each training and evaluating afresh (own checkpoints, one thread each), agree exactly."""
    from nblib.paths import notebooks_dir
    from nblib.record import differences

    spec = RunSpec(notebooks_dir() / f"{slug}.ipynb", "smoke")
    runs = []
    for attempt in ("first", "second"):
        monkeypatch.setenv("NBLIB_CHECKPOINTS", str(tmp_path / attempt / "checkpoints"))
        result = run_notebook(spec, root=tmp_path / attempt, timeout=CELL_TIMEOUT_S, threads=1)
        assert result["status"] == "ok", result.get("error")
        runs.append(result)
    assert runs[0]["values"]["verdicts"], "nothing recorded to compare"
    assert differences(*runs) == []


def test_readme_gallery_matches_the_reference_records():
    """Every verdict and number in the README gallery is rendered from figures/*/reference_run.json
    (`python -m nblib gallery` regenerates it)."""
    from nblib.gallery import check_readme

    diff = check_readme()
    assert not diff, (
        "README gallery drifted from the records; run `python -m nblib gallery`:\n"
        + "\n".join(diff)
    )
