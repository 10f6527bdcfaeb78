import numpy as np
import pytest

from nblib.experiments import more_is_different as md
from nblib.experiments.more_is_different import analysis


def test_decay_fit_recovers_the_shape_that_made_the_data():
    rng = np.random.default_rng(0)
    b = np.repeat(np.arange(1, 31), 40)
    binary = np.array([int(x).bit_length() + int(x).bit_count() for x in b])
    floor = np.full(len(b), 1 / 31)
    for x_true, better in ((b, "linear"), (binary, "binary")):
        p = floor + (1 - floor) * 0.95 ** x_true
        k = rng.binomial(8, p)
        fits = {shape: analysis.fit_decay(x, k, 8, floor)
                for shape, x in (("linear", b), ("binary", binary))}
        assert fits[better]["nll"] < min(f["nll"] for f in fits.values()) + 1e-12
        assert fits[better]["epsilon"] == pytest.approx(0.05, abs=0.015)
    flat = analysis.fit_decay(b, np.full(len(b), 8), 8, floor)
    assert flat["epsilon"] < 1e-3 and flat["alpha"] > 0.99


def test_decay_fit_finds_a_small_error_rate_in_near_perfect_data():
    """A model right on ~99% of samples: the fit must not stop at ε = 0, where every failure
    would cost the clip's log-probability, but reach at least the true parameters' likelihood."""
    rng = np.random.default_rng(1)
    b = np.repeat(np.arange(1, 17), 8)
    floor = np.full(len(b), 1 / 31)
    k = rng.binomial(8, floor + (1 - floor) * 0.998 ** b)
    assert (k < 8).any()  # some failures to explain
    fit = analysis.fit_decay(b, k, 8, floor)
    p_true = floor + (1 - floor) * 0.998 ** b
    nll_true = -(k * np.log(p_true) + (8 - k) * np.log1p(-p_true)).mean()
    assert fit["nll"] <= nll_true + 1e-6
    assert 0 < fit["epsilon"] < 0.02


def test_decide_invariants_and_statistics_on_the_tiny_run(tiny):
    cfg, res = tiny
    verdicts = md.decide(res, cfg)
    assert md.HEADLINE in verdicts and len(verdicts) == 3 + 3 * len(cfg.widths)
    assert {v.label for v in verdicts.values()} <= {"SUPPORTED", "NOT SUPPORTED",
                                                    "INCONCLUSIVE"}
    head = verdicts[md.HEADLINE].estimate
    assert head.n == cfg.seeds and head.low <= head.value <= head.high
    inv = md.invariants(res, cfg)
    for name in ("metrics_within_0_and_1", "algorithm_shares_sum_to_1",
                 "rewards_within_their_range", "losses_finite",
                 "grader_accepts_both_reference_traces", "evaluation_b_ranges_as_configured",
                 "every_job_has_every_checkpoint", "every_job_logs_every_rl_step"):
        assert inv[name], name
    numbers = md.statistics(res, cfg)
    assert {"per_width", "signatures", "summary", "share_by_b", "held_out_after_rl"} <= set(
        numbers)
    assert len(numbers["per_width"]) == len(cfg.widths)
    sig = analysis.signatures(res, cfg)
    assert len(sig) == len(cfg.widths) * cfg.seeds * len(res.steps)
    assert np.allclose(sig.signature, sig.nll_linear - sig.nll_binary)
    assert md.closing_line(verdicts).startswith("share largest − smallest after RL")


def test_the_headline_is_the_paired_share_difference(tiny):
    cfg, res = tiny
    end = analysis.at(res, analysis.final_step(res))
    col = f"share_{cfg.algorithm}"
    diff = (end[end.width == cfg.widths[-1]][col].to_numpy()
            - end[end.width == cfg.widths[0]][col].to_numpy())
    assert md.decide(res, cfg)[md.HEADLINE].estimate.value == pytest.approx(diff.mean())


def test_the_per_width_verdicts_read_the_pretrained_model_and_the_shift(tiny):
    cfg, res = tiny
    start, end = analysis.at(res, 0), analysis.at(res, analysis.final_step(res))
    verdicts, trivial = md.decide(res, cfg), analysis.strongest_trivial(cfg)
    for w in cfg.widths:
        s, e = start[start.width == w], end[end.width == w]
        executes = verdicts[f"executes_task_d{w}"].estimate.value
        assert executes == pytest.approx((s.greedy - trivial).mean())
        gap = s.forced_binary.to_numpy() - s.forced_linear.to_numpy()
        shift = e.share_binary.to_numpy() - s.share_binary.to_numpy()
        follows = verdicts[f"rl_follows_execution_d{w}"].estimate.value
        assert follows == pytest.approx((np.sign(gap) * shift).mean())
    assert analysis.other("binary") == "linear" and analysis.other("linear") == "binary"
