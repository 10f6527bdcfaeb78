import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from nblib.config import ConfigError, build  # noqa: E402
from nblib.experiments.environment_compute import analysis, views  # noqa: E402


def test_figures_draw_with_intervals_in_range(tiny, open_run):
    cfg, res = tiny
    fig = views.plot_solver_axis(res, cfg)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["true return vs solver compute",
                                                       "exploited simulator error"]
    for coll in fig.axes[0].collections:  # return bands clipped to [0, 1]
        for path in coll.get_paths():
            ys = path.vertices[:, 1]
            assert ys.min() >= 0 and ys.max() <= 1
    assert len(views.plot_allocation(res, cfg).axes) >= 3
    views.plot_world_model(res, cfg)
    labels = [t.get_text() for t in views.plot_best_of_n(res, cfg).axes[0].get_legend()
              .get_texts()]
    assert {"coarse", "noisy", "oracle", "learned"} <= set(labels)
    views.plot_mismatch(analysis.mismatch_points(res.mpc, res.world_model, cfg))
    ep = views.recorded_episode(res, cfg, "euler", 1)
    assert [ax.get_title() for ax in ep.axes[:2]] == ["true world", "simulated world"]


def test_describe_env_passes_gymnasiums_checker(cfg):
    out = views.describe_env(cfg, steps=3)
    assert len(out["steps"]) == 4 and "(3,)" in out["observation_space"]


def test_watch_plays_true_and_simulated_world(cfg, open_run):
    worlds = views.watch(cfg, views.EpisodeChoice("euler", 1, 8, 0))
    assert set(worlds) == {"true world", "simulated world"}
    assert (open_run / "figures" / "watch.png").is_file()


def test_controls_refuse_out_of_range_values_with_the_config_message(cfg, capsys, open_run):
    controls = views.EpisodeControls(cfg)
    controls.controls["substeps"].value = 0  # an IntText: no silent clamping
    capsys.readouterr()
    assert controls.run() is None
    with pytest.raises(ConfigError) as err:
        build(views.EpisodeChoice, {"substeps": 0})
    printed = controls.output.outputs[0]["text"] if controls.output.outputs else \
        capsys.readouterr().out
    shown = printed.strip().splitlines()[-1]
    assert shown == f"not run: {err.value}"
    assert "out of range, allowed [1, 1000]" in shown
    controls.controls["substeps"].value = 2
    controls.controls["population"].value = 8
    assert set(controls.run()) == {"true world", "simulated world"}
