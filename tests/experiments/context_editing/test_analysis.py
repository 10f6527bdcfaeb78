import numpy as np
import pandas as pd
import pytest

from nblib.experiments.context_editing import analysis, experiment

from .conftest import TINY


def _results(full, oracle, sup, rl=None, random=None, lexical=None, curve=None):
    rows = []
    for seed in range(len(full)):
        rows.append({"seed": seed, "policy": "full", "budget": "all", "accuracy": full[seed],
                     "kept_measure": 1.0})
        for name, acc in (("oracle", oracle), ("supervised", sup), ("rl", rl or sup),
                          ("random", random or full), ("lexical", lexical or full)):
            rows.append({"seed": seed, "policy": name, "budget": "2", "accuracy": acc[seed],
                         "kept_measure": 1.0})
    c = curve or ([0.9] * len(full), [0.3] * len(full))
    curve_rows = [{"seed": s, "distractors": d, "accuracy": c[i][s]}
                  for i, d in enumerate((0, 8)) for s in range(len(full))]
    return experiment.Results(pd.DataFrame(), pd.DataFrame(curve_rows), pd.DataFrame(rows),
                              pd.DataFrame(), pd.DataFrame(), {}, {}, {}, {})


class _Cfg:
    budgets = [2]
    rot_curve = [0, 8]
    gain_margin = 0.05
    gap_share = 0.5
    equivalence_margin = 0.05


def test_gap_share_of_hand_made_accuracies():
    res = _results(full=[0.2, 0.2, 0.3], oracle=[1.0, 0.6, 0.3], sup=[0.6, 0.5, 0.9])
    shares = analysis.gap_shares(res, _Cfg())
    assert shares[:2] == pytest.approx([0.5, 0.75]) and np.isnan(shares[2])  # no oracle gain


@pytest.mark.parametrize("sup,label", [
    ([0.95, 0.96, 0.97, 0.94, 0.95], "SUPPORTED"),  # closes ~94% of the gap
    ([0.25, 0.22, 0.28, 0.21, 0.24], "NOT SUPPORTED"),  # closes ~4%
])
def test_headline_reads_the_share(sup, label):
    res = _results(full=[0.2] * 5, oracle=[1.0] * 5, sup=sup)
    verdicts = analysis.edit_verdicts(res, _Cfg())
    assert verdicts[analysis.HEADLINE].label == label
    assert verdicts["answerer_rots"].label == "SUPPORTED"


def test_length_slope_of_hand_made_items():
    rows = []
    for item, ys in enumerate(([1, 1, 0], [1, 0, 0])):  # lengths 128, 256, 512
        for n, y in zip((128, 256, 512), ys, strict=True):
            rows += [{"item": item, "length": n, "distractors": d, "shuffled": False,
                      "correct": y, "logp": -1.0} for d in (0, 2)]
    res = experiment.Results(pd.DataFrame(rows), *[pd.DataFrame()] * 4, {}, {}, {}, {})

    class Cfg:
        rot_lengths, rot_distractors = [128, 256, 512], 2
    assert analysis.length_slopes(res, Cfg()) == pytest.approx([-0.5, -0.5])


def test_the_tiny_run_decides_and_keeps_its_invariants(tiny):
    cfg, res = tiny
    verdicts = analysis.decide(res, cfg)
    assert set(verdicts) >= {"rot_with_length", "rot_with_distractors", analysis.HEADLINE,
                             "rl_differs_from_supervised"}
    assert all(v.label in ("SUPPORTED", "NOT SUPPORTED", "INCONCLUSIVE")
               for v in verdicts.values())
    assert verdicts["rot_with_distractors"].estimate.unit == "items"
    assert all(analysis.invariants(res, cfg).values())
    numbers = analysis.statistics(res, cfg)
    assert {"rot_accuracy", "policies", "answerer_curve", "own_length_share"} <= set(numbers)
    assert "n=2 seeds" in analysis.closing_line(verdicts) or "n=" in analysis.closing_line(
        verdicts)
    assert TINY["seeds"] == len(cfg.seed_list)
