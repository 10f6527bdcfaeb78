"""Benchmark: notebook 09's `train_condition` (the shared `Trainer` with an MSE loss hook) against
a minimal hand-written PyTorch loop.

Same model, optimizer, batch and data sampler; the reference loop has no schedule, no evaluation
and no bookkeeping. Runs are interleaved in one process (A B A B ...) so drift hits both; prints
steps/s of each and their ratio (nblib / reference; 1.0 = no overhead). Run: `make bench`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from nblib.config import build, replace
from nblib.data.tasks.icl_regression import RegressionTask
from nblib.experiments import mlp_in_context as icl


def reference_loop(cfg: icl.ICLConfig, cond: icl.Condition, steps: int) -> float:
    """The plainest loop that trains the same network on the same stream: returns steps/s."""
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
    return steps / (time.perf_counter() - t0)


def nblib_loop(cfg: icl.ICLConfig, cond: icl.Condition, steps: int) -> float:
    """train_condition with the notebook's default evaluation schedule: returns steps/s."""
    out = icl.train_condition(
        replace(cfg, mlp_steps=steps, transformer_steps=steps, small_mlp_steps=steps), cond
    )
    return steps / out["row"]["train_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1500, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved A/B pairs per shape")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in the notebook's worker processes
    cfg = build(icl.ICLConfig, {})
    print(f"torch {torch.__version__}, 1 thread, {args.steps} "
          f"steps x {args.repeats} interleaved pairs")
    print(f"{'network':<24}{'reference steps/s':>18}{'nblib steps/s':>16}{'ratio':>8}")
    for cond in [icl.Condition("mlp", None, 8, 0), icl.Condition("transformer", None, 8, 0),
                 icl.Condition("small_mlp", None, 8, 0)]:
        ref, lib = [], []
        for _ in range(args.repeats):
            ref.append(reference_loop(cfg, cond, args.steps))
            lib.append(nblib_loop(cfg, cond, args.steps))
        r, n = statistics.median(ref), statistics.median(lib)
        print(f"{cond.model + f' (L={cond.context_len})':<24}{r:>18.0f}{n:>16.0f}{n / r:>8.2f}")


if __name__ == "__main__":
    main()
