"""What the k-shot loss asks a model to predict: for a categorical target q, the distribution p*
that minimises the expected loss E_{y~q}[−log(1 − (1 − p_y)^k)] over the simplex.

k = 1 is cross-entropy, a proper scoring rule: p* = q. For k > 1 the stationarity condition
q_y · g_k(p_y) = λ with g_k(p) = k(1 − p)^(k−1) / (1 − (1 − p)^k) ≈ 1/p for small p but falling
much faster for large p, so p* is flatter than q (improper, under-confident) while keeping q's order
and support. Temperature scaling q^(1/T) is the natural rival ("just sample hotter"); the best
temperature leaves a residual, so the k-shot optimum is not a rescaling of q.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy import optimize


def zipf(n: int, exponent: float) -> np.ndarray:
    """q_i ∝ i^−exponent over n classes (exponent 0: uniform)."""
    if n < 2:
        raise ValueError(f"n={n}: a target distribution needs at least 2 classes")
    q = np.arange(1, n + 1, dtype=float) ** -exponent
    return q / q.sum()


def _check(q) -> torch.Tensor:
    q = torch.as_tensor(np.asarray(q, float), dtype=torch.float64)
    if q.ndim != 1 or len(q) < 2 or (q < 0).any() or abs(float(q.sum()) - 1) > 1e-9:
        raise ValueError(f"q must be a probability vector over at least 2 classes, got {q.tolist()}")
    return q


def expected_kshot_loss(p, q, k: int) -> torch.Tensor:
    """E_{y~q}[−log(1 − (1 − p_y)^k)] (nats); p and q over the same classes (torch, differentiable in p)."""
    p, q = torch.as_tensor(p, dtype=torch.float64), torch.as_tensor(q, dtype=torch.float64)
    hit = -torch.expm1(k * torch.log1p(-p.clamp(max=1 - 1e-15)))  # 1 − (1 − p)^k
    return -(q * torch.log(hit.clamp_min(1e-300))).where(q > 0, torch.zeros_like(q)).sum()


def kshot_minimiser(q, k: int, steps: int = 200) -> np.ndarray:
    """argmin over the simplex of the expected k-shot loss under q (float64 L-BFGS on the logits of
    the classes with q > 0; classes with q = 0 get p = 0, where the loss is lowest)."""
    q = _check(q)
    if k < 1:
        raise ValueError(f"k={k} must be a positive integer")
    support = q > 0
    logits = torch.log(q[support]).clone().requires_grad_(True)  # start at q itself
    opt = torch.optim.LBFGS([logits], lr=1, max_iter=steps, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = expected_kshot_loss(torch.softmax(logits, 0), q[support], k)
        loss.backward()
        return loss

    opt.step(closure)
    p = torch.zeros_like(q)
    p[support] = torch.softmax(logits.detach(), 0)
    return p.numpy()


def stationarity_spread(p, q, k: int) -> float:
    """Relative spread of q_y · g_k(p_y) over the support (0 at the constrained optimum)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    keep = q > 0
    g = k * (1 - p[keep]) ** (k - 1) / -np.expm1(k * np.log1p(-p[keep]))
    lam = q[keep] * g
    return float((lam.max() - lam.min()) / lam.mean())


def temperature_scaled(q, temperature: float) -> np.ndarray:
    """q^(1/T), renormalised."""
    q = np.asarray(q, float)
    logq = np.where(q > 0, np.log(np.where(q > 0, q, 1.0)), -np.inf) / temperature
    w = np.exp(logq - logq.max())
    return w / w.sum()


def best_temperature(q, k: int) -> tuple[float, float]:
    """(T, expected k-shot loss of q^(1/T)): the temperature scaling of q that does best on the
    k-shot objective itself. Its loss above the minimiser's is what no rescaling can recover."""
    q = _check(q).numpy()

    def loss(log_t: float) -> float:
        return float(expected_kshot_loss(temperature_scaled(q, float(np.exp(log_t))), q, k))

    res = optimize.minimize_scalar(loss, bounds=(np.log(0.05), np.log(1000.0)), method="bounded",
                                   options={"xatol": 1e-10})
    return float(np.exp(res.x)), float(res.fun)


def entropy(p) -> float:
    p = np.asarray(p, float)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def minimiser_table(classes: int, exponents, ks) -> tuple[pd.DataFrame, dict]:
    """One row per Zipf target q (q_i ∝ i^−exponent over `classes`) and k: entropy and top-1
    probability of q and of the minimiser p*, the expected loss at q and at p* (q loses for k > 1:
    the rule is improper), the best temperature scaling of q on the same objective and its excess
    loss over p* (relative), whether p* keeps q's order, and the stationarity check. Also returns
    {(exponent, k): (q, p*)}."""
    rows, found = [], {}
    for exponent in exponents:
        q = zipf(classes, exponent)
        for k in ks:
            p = kshot_minimiser(q, k)
            found[(exponent, k)] = (q, p)
            loss_q, loss_p = float(expected_kshot_loss(q, q, k)), float(expected_kshot_loss(p, q, k))
            t, loss_t = best_temperature(q, k)
            rows.append({"zipf": exponent, "k": k, "entropy_q": entropy(q), "entropy_p": entropy(p),
                         "top1_q": q.max(), "top1_p": p.max(), "loss_at_q": loss_q, "loss_at_p": loss_p,
                         "best_temperature": t, "temperature_excess": (loss_t - loss_p) / loss_p,
                         "order_kept": bool(np.all(np.diff(p[np.argsort(-q, kind="stable")]) <= 1e-9)),
                         "stationarity_spread": stationarity_spread(p, q, k)})
    return pd.DataFrame(rows), found
