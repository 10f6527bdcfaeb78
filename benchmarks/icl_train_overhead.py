"""Benchmark: notebook 09's `train_condition` (the shared `Trainer` with an MSE loss hook) against
a minimal hand-written PyTorch loop.

Same model, optimizer, batch and data sampler; the reference loop has no schedule, no evaluation
and no bookkeeping. Each measurement runs a loop until at least `--min-s` seconds are timed; the
loops alternate over `--rounds` rounds in one process (A B, B A, ...) so drift hits both. Prints
the load average and the torch threads chosen by it (one on a busy machine), steps/s of each loop
and the median per-round ratio (nblib / reference; 1.0 = no overhead), and writes them to
benchmarks/results/icl_train_overhead.json. About 1 minute on an idle 2-core machine, 2 on a busy
one. Run: `make bench`.
"""

from __future__ import annotations

import argparse
import functools
import time

import torch
from timing import interleaved, machine, write_record

from nblib.config import build, replace
from nblib.data.tasks.icl_regression import RegressionTask
from nblib.experiments import mlp_in_context as icl

CONDITIONS = [icl.Condition("mlp", None, 8, 0), icl.Condition("transformer", None, 8, 0),
              icl.Condition("small_mlp", None, 8, 0)]


def reference_loop(cfg: icl.ICLConfig, cond: icl.Condition, steps: int) -> tuple[int, float]:
    """The plainest loop that trains the same network on the same stream: (steps, seconds)."""
    task = RegressionTask(cfg.dim, cond.context_len, cfg.noise_var, cond.pool_size)
    torch.manual_seed(cond.seed)
    model = icl.build_model(cfg, cond)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(cond.seed)
    t0 = time.perf_counter()
    for _ in range(steps):
        z, y = task.sample(cfg.batch_size, g)
        loss = ((model(z).squeeze(-1) - y) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps, time.perf_counter() - t0


def nblib_loop(cfg: icl.ICLConfig, cond: icl.Condition, steps: int) -> tuple[int, float]:
    """train_condition with the notebook's default evaluation schedule: (steps, seconds)."""
    per_step = icl.train_flops_per_step(cfg, cond.model, cond.context_len)
    out = icl.train_condition(
        replace(cfg, train_flops=steps * per_step, small_mlp_steps=steps, min_steps=1), cond
    )
    return out["row"]["steps"], out["row"]["train_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300, help="steps per timed run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved A/B rounds per network")
    parser.add_argument("--min-s", type=float, default=2.0, help="least timed seconds per loop "
                        "and round (short runs repeat)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: nblib.env.default_threads(), 1 when busy)")
    args = parser.parse_args()
    record = {"machine": machine(args.threads), "networks": {}}
    cfg = build(icl.ICLConfig, {})
    reference_loop(cfg, CONDITIONS[0], 10)  # warm up: first-call imports and allocations
    print(f"{args.steps} steps per run, >= {args.min_s:g} s per measurement, "
          f"{args.rounds} interleaved rounds")
    print(f"{'network':<24}{'reference steps/s':>18}{'nblib steps/s':>16}{'ratio':>8}"
          "   per-round ratios")
    for cond in CONDITIONS:
        out = interleaved(functools.partial(reference_loop, cfg, cond),
                          functools.partial(nblib_loop, cfg, cond),
                          args.steps, args.rounds, args.min_s)
        name = f"{cond.model} (L={cond.context_len})"
        record["networks"][name] = out
        print(f"{name:<24}{out['reference']:>18.0f}{out['target']:>16.0f}{out['ratio']:>8.2f}"
              f"   {', '.join(f'{r:.2f}' for r in out['ratios'])}", flush=True)
    write_record("icl_train_overhead", record)


if __name__ == "__main__":
    main()
