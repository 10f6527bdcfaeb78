"""nblib.plots: the project theme and `save` into the current run's figures folder."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import nblib  # noqa: E402
from nblib import plots  # noqa: E402

pytestmark = pytest.mark.usefixtures("nbenv")


@pytest.fixture
def fig():
    figure, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [1, 0, 2])
    yield figure
    plt.close(figure)


def test_set_theme():
    with matplotlib.rc_context():
        plots.set_theme()
        rc = matplotlib.rcParams
        assert rc["axes.titleweight"] == "bold" and rc["legend.frameon"] is False
        assert rc["savefig.bbox"] == "tight" and rc["savefig.dpi"] == 130
        assert rc["axes.grid"] is True  # whitegrid


def test_save_writes_png_into_the_run(nbenv, fig):
    run_dir = nblib.start_run("01_fixture")
    path = plots.save(fig, "loss_curve")
    assert path == run_dir / "figures" / "loss_curve.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 500
    # nothing is written into the committed figures/ of the repository
    assert not (nbenv.root / "figures" / "01_fixture" / "loss_curve.png").exists()


def test_save_needs_an_open_run(fig):
    with pytest.raises(RuntimeError, match="start_run"):
        plots.save(fig, "x")
