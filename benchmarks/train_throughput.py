"""Benchmark: nblib's Trainer against a minimal hand-written PyTorch loop on the same tiny LM.

Same model (same init), AdamW with the same parameter groups, the same cosine schedule and
gradient clipping, the same window sampler; the hand loop has no callbacks and no bookkeeping.
Each measurement runs a loop until at least `--min-s` seconds are timed (steps per run calibrated
to that); the loops alternate over `--rounds` rounds in one process (A B, B A, ...) so drift hits
both. Prints the load average and the torch threads chosen by it (one on a busy machine), tokens/s
of each, the median per-round ratio (Trainer / hand loop; 1.0 = no overhead) and MFU: achieved
training FLOP/s over the machine's measured fp32 matmul rate; writes them to
benchmarks/results/train_throughput.json. About 1 minute on an idle 2-core machine, 2 on a busy
one. Run: `make bench` (or `python benchmarks/train_throughput.py`).
"""

from __future__ import annotations

import argparse
import functools
import math
import time

import torch
import torch.nn.functional as F
from timing import interleaved, machine, write_record

from nblib.models.lm import LMShape, build_lm, flops_per_token
from nblib.train.batches import RandomWindows
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer, param_groups

SHAPES = {  # name: (shape, batch size)
    "target d256 L4 ctx256 b16": (
        LMShape(vocab_size=2048, d_model=256, n_layers=4, n_heads=4, context=256),
        16,
    ),
    "tiny d32 L2 ctx64 b32": (
        LMShape(vocab_size=512, d_model=32, n_layers=2, n_heads=2, context=64),
        32,
    ),
}


def matmul_flops(n: int = 1024, repeats: int = 20) -> float:
    """Measured fp32 matmul rate of this machine (FLOP/s) at the current thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def hand_loop(shape: LMShape, batch: int, steps: int, tokens: torch.Tensor,
              schedule: Schedule) -> tuple[int, float]:
    """The plainest loop training the same model the same way: (tokens, seconds)."""
    model = build_lm(shape, seed=0)
    opt = torch.optim.AdamW(param_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(0)
    offsets = torch.arange(shape.context + 1)
    start = time.perf_counter()
    for step in range(steps):
        starts = torch.randint(0, len(tokens) - shape.context - 1, (batch,), generator=gen)
        window = tokens[starts[:, None] + offsets]  # (batch, context + 1)
        for group in opt.param_groups:
            group["lr"] = 1e-3 * schedule(step)
        logits = model(input_ids=window[:, :-1]).logits  # (batch, context, vocab)
        loss = F.cross_entropy(logits.flatten(0, 1), window[:, 1:].flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    loss.item()
    return steps * batch * shape.context, time.perf_counter() - start


def trainer_loop(shape: LMShape, batch: int, steps: int, tokens: torch.Tensor,
                 schedule: Schedule) -> tuple[int, float]:
    """nblib's Trainer on the same model and data: (tokens, seconds)."""
    trainer = Trainer(build_lm(shape, seed=0), TrainConfig(lr=1e-3, schedule=schedule),
                      RandomWindows(tokens, batch, shape.context))
    start = time.perf_counter()
    trainer.fit(steps)
    return trainer.tokens, time.perf_counter() - start


def calibrated_steps(shape: LMShape, batch: int, data: torch.Tensor, min_s: float,
                     min_steps: int) -> int:
    """Steps for one run to take about `min_s` (a quarter more, so one run usually suffices)."""
    hand_loop(shape, batch, 1, data, Schedule())  # warm up allocator and kernels
    tokens, seconds = hand_loop(shape, batch, 2, data, Schedule())
    step_s = seconds * batch * shape.context / tokens
    return max(min_steps, math.ceil(1.25 * min_s / step_s))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=0,
                        help="steps per timed run (0: calibrated to --min-s)")
    parser.add_argument("--min-steps", type=int, default=3, help="least steps per timed run")
    parser.add_argument("--min-s", type=float, default=2.0, help="least timed seconds per loop "
                        "and round (short runs repeat)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved A/B rounds per shape")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: nblib.env.default_threads(), 1 when busy)")
    args = parser.parse_args()
    record = {"machine": machine(args.threads), "shapes": {}}
    peak = matmul_flops()
    record["machine"]["matmul_flops"] = peak
    print(f"measured fp32 matmul {peak / 1e9:.1f} GFLOP/s; >= {args.min_s:g} s per measurement, "
          f"{args.rounds} interleaved rounds")
    print(
        f"{'shape':<28}{'hand tok/s':>12}{'Trainer tok/s':>15}{'ratio':>8}"
        f"{'MFU hand':>10}{'MFU nblib':>11}"
    )
    tokens = torch.randint(0, 512, (1_000_000,))
    for name, (shape, batch) in SHAPES.items():
        data = tokens % shape.vocab_size
        steps = args.steps or calibrated_steps(shape, batch, data, args.min_s, args.min_steps)
        schedule = Schedule("cosine", warmup_steps=steps // 10, total_steps=steps)
        out = interleaved(functools.partial(hand_loop, shape, batch, tokens=data,
                                            schedule=schedule),
                          functools.partial(trainer_loop, shape, batch, tokens=data,
                                            schedule=schedule),
                          steps, args.rounds, args.min_s)
        flops = flops_per_token(shape)["train"]
        out["mfu_reference"], out["mfu_target"] = (out[k] * flops / peak
                                                   for k in ("reference", "target"))
        record["shapes"][name] = out
        print(
            f"{name:<28}{out['reference']:>12.0f}{out['target']:>15.0f}{out['ratio']:>8.3f}"
            f"{out['mfu_reference']:>10.1%}{out['mfu_target']:>11.1%}"
            f"   ({steps} steps x {args.rounds}; ratios "
            f"{', '.join(f'{r:.2f}' for r in out['ratios'])})", flush=True
        )
    write_record("train_throughput", record)


if __name__ == "__main__":
    main()
