"""Benchmark: nblib's Trainer against a minimal hand-written PyTorch loop on the same tiny LM.

Same model (same init), AdamW with the same parameter groups, the same cosine schedule and
gradient clipping, the same window sampler; the hand loop has no callbacks and no bookkeeping.
Runs alternate (A B A B ...) in one process so drift hits both. Prints tokens/s of each, their
ratio (Trainer / hand loop; 1.0 = no overhead) and MFU: achieved training FLOP/s over the
machine's measured fp32 matmul rate. Run: `make bench` (or `python benchmarks/train_throughput.py`).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

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
              schedule: Schedule) -> float:
    """The plainest loop training the same model the same way: returns tokens/s."""
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
    return steps * batch * shape.context / (time.perf_counter() - start)


def trainer_loop(shape: LMShape, batch: int, steps: int, tokens: torch.Tensor,
                 schedule: Schedule) -> float:
    """nblib's Trainer on the same model and data: returns tokens/s."""
    trainer = Trainer(build_lm(shape, seed=0), TrainConfig(lr=1e-3, schedule=schedule),
                      RandomWindows(tokens, batch, shape.context))
    start = time.perf_counter()
    trainer.fit(steps)
    return trainer.tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=0,
                        help="steps per timed run (0: ~10 s per run)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved pairs per shape")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    peak = matmul_flops()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"measured fp32 matmul {peak / 1e9:.1f} GFLOP/s"
    )
    print(
        f"{'shape':<28}{'hand tok/s':>12}{'Trainer tok/s':>15}{'ratio':>8}"
        f"{'MFU hand':>10}{'MFU nblib':>11}"
    )
    tokens = torch.randint(0, 512, (1_000_000,))
    for name, (shape, batch) in SHAPES.items():
        data = tokens % shape.vocab_size
        hand_loop(shape, batch, 2, data, Schedule())  # warm up allocator and kernels
        step_s = batch * shape.context / hand_loop(shape, batch, 3, data, Schedule())
        steps = args.steps or max(5, int(10 / step_s))
        schedule = Schedule("cosine", warmup_steps=steps // 10, total_steps=steps)
        hand, lib = [], []
        for _ in range(args.repeats):
            hand.append(hand_loop(shape, batch, steps, data, schedule))
            lib.append(trainer_loop(shape, batch, steps, data, schedule))
        h, n = statistics.median(hand), statistics.median(lib)
        flops = flops_per_token(shape)["train"]
        print(
            f"{name:<28}{h:>12.0f}{n:>15.0f}{n / h:>8.3f}"
            f"{h * flops / peak:>10.1%}{n * flops / peak:>11.1%}"
            f"   ({steps} steps x {args.repeats})"
        )


if __name__ == "__main__":
    main()
