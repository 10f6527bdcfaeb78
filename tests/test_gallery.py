"""nblib.gallery: the README gallery rendered from figures/<slug>/reference_run.json, and the check
that the README matches the records."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, SLUG

import nblib
from nblib import gallery
from nblib.__main__ import main
from nblib.stats import Estimate, mean_ci, verdict

fixture_config = importlib.import_module("fixture_config")
QUESTION = "Does a fixture learn? (Doe 2024, [arXiv:2401.00001](https://arxiv.org/abs/2401.00001))"
PNG = (REPO / "figures" / "09_mlp_in_context" / "mse_vs_k.png").read_bytes()


@pytest.fixture
def root(nbenv, tmp_path, monkeypatch) -> Path:
    """A throwaway repository root: the fixture notebook as 01 and 02 (same config class), a
    README with the gallery markers, no reference records yet."""
    root = tmp_path / "repo"
    (root / "nblib").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "notebooks").mkdir()
    shutil.copy(FIXTURES / "notebooks" / f"{SLUG}.ipynb", root / "notebooks" / f"{SLUG}.ipynb")
    shutil.copy(FIXTURES / "notebooks" / f"{SLUG}.ipynb", root / "notebooks" / "02_other.ipynb")
    (root / "README.md").write_text(f"# Title\n\nintro\n\n{gallery.START}\nold\n{gallery.END}\n\n"
                                    "## Layout\n")
    monkeypatch.setenv("NBLIB_ROOT", str(root))
    monkeypatch.setattr(fixture_config, "QUESTION", QUESTION, raising=False)
    monkeypatch.setattr(fixture_config, "FIGURE", "curve", raising=False)
    return root


def _estimate(value, low, high, n=3, unit="seeds"):
    return {"value": value, "low": low, "high": high, "level": 0.95, "n": n, "p_value": None,
            "unit": unit}


def _verdict(label, claim, est):
    return {"label": label, "claim": claim, "estimate": est, "threshold": 0.0, "direction": "<",
            "details": {}}


def _reference(root: Path, slug: str, record: dict, figure: bool = True) -> None:
    folder = root / "figures" / slug
    folder.mkdir(parents=True, exist_ok=True)
    if figure:
        (folder / "curve.png").write_bytes(PNG)
    base = {"notebook": slug, "run_id": "default-abc123", "profile": "default",
            "duration_s": 186.0, "env": {"git_sha": "0123456789abcdef", "cpu_count": 2}}
    (folder / "reference_run.json").write_text(json.dumps({**base, **record}))


HEAD = _verdict("SUPPORTED", "the loss falls", _estimate(-0.4512, -0.52, -0.38))
SIDE = _verdict("INCONCLUSIVE", "a | b differ", _estimate(0.0123, -0.004, 0.031, 40, "items"))


@pytest.mark.parametrize("x, text", [(0.4512, "0.451"), (-0.0123, "−0.0123"), (3, "3"),
                                     (123.456, "123"), (1234.5, "1234"), (-12345.6, "−12346"),
                                     (123456.0, "1.23e+05"), (2.5e-6, "2.5e−06"), (0.0, "0"),
                                     (None, "n/a"), (float("nan"), "n/a"), (float("inf"), "n/a")])
def test_number(x, text):
    assert gallery.number(x) == text


def test_estimate_text():
    assert gallery.estimate_text(_estimate(0.45, 0.42, 0.49)) == "0.45 [0.42, 0.49], n = 3 seeds"
    assert (gallery.estimate_text(_estimate(-1.5, -2.0, -1.0, 40, "items"))
            == "−1.5 [−2, −1], n = 40 items")
    assert gallery.estimate_text({"value": 0.5, "low": None, "high": None, "n": 1}) == (
        "0.5, n = 1")  # an interval recorded as null (n < 2) is left out
    assert gallery.estimate_text({"value": 0.5}) == "0.5, n = ?"  # an old record: no unit named
    assert gallery.estimate_text(None) == gallery.estimate_text({"value": None}) == "n/a"
    tost = {"value": 0.11, "low": -0.07, "high": 0.29, "level": 0.9, "n": 5, "unit": "seeds"}
    assert gallery.estimate_text(tost) == "0.11 [−0.07, 0.29] (90% CI), n = 5 seeds"
    assert "CI)" not in gallery.estimate_text({**tost, "level": 0.95})


def test_render_every_verdict_with_the_headline_first_in_the_summary(root):
    _reference(root, SLUG, {"verdict": HEAD, "headline": "falls",
                            "verdicts": {"falls": HEAD, "side": SIDE}})
    text = gallery.render()
    assert text.startswith(gallery.START) and text.endswith(gallery.END)
    assert (f"| [{SLUG}](notebooks/{SLUG}.ipynb) | {QUESTION} | **SUPPORTED**: the loss falls: "
            "−0.451 [−0.52, −0.38], n = 3 seeds |") in text
    assert ("| [02_other](notebooks/02_other.ipynb) | " + QUESTION
            + " | no reference run recorded yet |") in text
    assert "### 02_other" not in text
    section = text.split(f"### {SLUG}", 1)[1]
    assert "Reference run `default-abc123` at commit `0123456`, 3.1 min on 2 CPU cores." in section
    assert ("| **falls** (headline) | **SUPPORTED** | −0.451 [−0.52, −0.38], n = 3 seeds "
            "| the loss falls |") in section
    assert ("| side | **INCONCLUSIVE** | 0.0123 [−0.004, 0.031], n = 40 items "
            "| a \\| b differ |") in section  # a pipe in a claim does not split the table
    assert f"![curve](figures/{SLUG}/curve.png)" in section


def test_an_old_record_holding_only_the_verdict_still_renders(root):
    _reference(root, SLUG, {"verdict": HEAD, "env": {"git_sha": None}, "duration_s": None},
               figure=False)
    text = gallery.render()
    assert "**SUPPORTED**: the loss falls: −0.451 [−0.52, −0.38], n = 3 seeds |" in text
    assert "| **headline** (headline) | **SUPPORTED** |" in text
    assert "at commit `?` on ? CPU cores." in text  # no sha, no duration: no crash
    assert "![curve]" not in text  # the figure is only linked when it exists


def test_a_multiline_question_stays_one_table_cell(root, monkeypatch):
    monkeypatch.setattr(fixture_config, "QUESTION", "Does it\n  learn | forget?")
    summary = gallery.render().split("\n\n")[1]
    assert "| Does it learn \\| forget? | no reference run recorded yet |" in summary
    assert all(line.startswith("|") for line in summary.splitlines())


def test_a_package_without_question_is_named(root, monkeypatch):
    monkeypatch.delattr(fixture_config, "QUESTION")
    with pytest.raises(ValueError, match="QUESTION"):
        gallery.render()


def test_write_then_check_readme_and_detect_drift(root, capsys):
    _reference(root, SLUG, {"verdict": HEAD, "headline": "falls",
                            "verdicts": {"falls": HEAD, "side": SIDE}})
    assert gallery.check_readme()  # the README holds "old"
    assert main(["gallery", "--check"]) == 1
    assert main(["gallery"]) == 0
    text = (root / "README.md").read_text()
    assert text.startswith("# Title\n\nintro\n\n") and text.endswith("\n\n## Layout\n")
    assert gallery.render() in text and "\nold\n" not in text
    assert gallery.check_readme() == [] and main(["gallery", "--check"]) == 0
    assert "matches" in capsys.readouterr().out
    (root / "README.md").write_text(text.replace("−0.451", "−0.45"))  # a hand edit
    diff = gallery.check_readme()
    assert any(line.startswith("-") and "−0.45 [" in line for line in diff)
    assert any(line.startswith("+") and "−0.451 [" in line for line in diff)
    _reference(root, SLUG, {"verdict": SIDE})  # a new reference run: the README is stale
    gallery.write_readme()
    assert gallery.check_readme() == []


def test_a_readme_without_markers_is_an_error(root):
    (root / "README.md").write_text("# Title\n")
    with pytest.raises(ValueError, match="markers"):
        gallery.check_readme()
    with pytest.raises(ValueError, match="markers"):
        gallery.write_readme()


def test_a_published_reference_run_renders_every_recorded_verdict(root, nbenv):
    from nblib.runner import publish_figures

    run_dir = nblib.start_run(SLUG)
    (run_dir / "figures").mkdir()
    (run_dir / "figures" / "curve.png").write_bytes(PNG)
    main_v = verdict("the loss falls", mean_ci([-0.5, -0.4, -0.45]), 0.0, "<")
    side_v = verdict("items agree", Estimate(0.2, 0.1, 0.3, n=40, unit="items"), 0.0, ">")
    nblib.record_verdicts({"falls": main_v, "agree": side_v}, headline="falls")
    publish_figures(run_dir, SLUG)
    ref = json.loads((root / "figures" / SLUG / "reference_run.json").read_text())
    assert ref["headline"] == "falls" and set(ref["verdicts"]) == {"falls", "agree"}
    text = gallery.render()
    assert "| **falls** (headline) | **SUPPORTED** | −0.45 [" in text
    assert "| agree | **SUPPORTED** | 0.2 [0.1, 0.3], n = 40 items | items agree |" in text
