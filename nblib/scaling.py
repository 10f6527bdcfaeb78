"""Loss laws L(N, D): Chinchilla's form, a Farseer-like N-dependent data exponent, Kaplan's form.

N = parameters, D = training tokens, L = loss (nats/token). All forms are fitted the way Besiroglu
et al. 2024 (Epoch's Chinchilla replication) refit Hoffmann et al.'s Approach 3: predicted log L as
a log-sum-exp of log-space terms, objective = sum of Huber(delta=1e-3) on log L_pred - log L_obs,
L-BFGS-B (analytic gradient) from a grid of initialisations, best optimum kept.
Parameters named `log_X` are optimised in log space and reported as X (so A, B, E stay positive).
Speed: scipy's L-BFGS-B calls OpenBLAS, whose threads spin; on a busy machine fits run ~15x slower
unless OPENBLAS_NUM_THREADS=1 is set before scipy is imported.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from nblib.stats import Estimate

Arr = np.ndarray
# L-BFGS-B's ftol is relative to max(|f|, 1), and these objectives are ~1e-4: with the defaults a
# warm-started bootstrap refit stops almost where it starts, and intervals come out far too narrow.
_OPTIONS = {"ftol": 1e-15, "gtol": 1e-12}


def _lse(t: Arr) -> tuple[Arr, Arr]:
    """Log-sum-exp over axis 0 of (k, n) terms, and the (k, n) softmax weights (its gradient)."""
    m = t.max(0)
    w = np.exp(t - m)
    s = w.sum(0)
    return m + np.log(s), w / s


def _chinchilla(th: Arr, lN: Arr, lD: Arr, c: Arr) -> tuple[Arr, Arr]:
    a, b, e, al, be = th  # log L = lse(a - al log N, b - be log D, e)
    out, w = _lse(np.stack([a - al * lN, b - be * lD, np.full_like(lN, e)]))
    return out, np.stack([w[0], w[1], w[2], -w[0] * lN, -w[1] * lD])


def _farseer(th: Arr, lN: Arr, lD: Arr, c: Arr) -> tuple[Arr, Arr]:
    a, b, e, al, b0, b1 = th  # data exponent beta(N) = b0 + b1 c, c = log N - log N_ref
    out, w = _lse(np.stack([a - al * lN, b - (b0 + b1 * c) * lD, np.full_like(lN, e)]))
    return out, np.stack([w[0], w[1], w[2], -w[0] * lN, -w[1] * lD, -w[1] * c * lD])


def _kaplan(th: Arr, lN: Arr, lD: Arr, c: Arr) -> tuple[Arr, Arr]:
    a, b, e, al, be = th  # log L = lse(be * s, e), s = lse(al/be (a - log N), b - log D)
    u = a - lN
    s, v = _lse(np.stack([al / be * u, b - lD]))
    out, w = _lse(np.stack([be * s, np.full_like(lN, e)]))
    t = w[0]
    return out, np.stack([t * al * v[0], t * be * v[1], w[1], t * v[0] * u,
                          t * (s - al / be * v[0] * u)])


@dataclass(frozen=True)
class Form:
    """A loss law: optimised coordinates `raw`, their start grid, and log L with its gradient."""

    name: str
    raw: tuple[str, ...]  # optimised coordinates; `log_X` is reported as X = exp(log_X)
    grid: tuple[tuple[float, ...], ...]  # start values per coordinate; the grid is their product
    log_l: Callable[[Arr, Arr, Arr, Arr], tuple[Arr, Arr]]  # theta, log N, log D, c -> (n,), (p, n)
    bounds: tuple[tuple[float | None, float | None], ...] | None = None
    uses_ref: bool = False  # has a reference size N_ref (stored in the params)
    formula: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.removeprefix("log_") for r in self.raw)

    def to_params(self, theta: Arr) -> dict[str, float]:
        return {n.removeprefix("log_"): float(np.exp(t) if n.startswith("log_") else t)
                for n, t in zip(self.raw, theta, strict=True)}

    def to_theta(self, params: dict[str, float]) -> Arr:
        return np.array([np.log(params[n[4:]]) if n.startswith("log_") else params[n]
                         for n in self.raw], float)

    def predict(self, params: dict[str, float], N: Arr, D: Arr) -> Arr:
        """Loss at (N, D) under `params` (natural units, e.g. A not log A; plus N_ref if used)."""
        lN, lD = np.log(np.asarray(N, float)), np.log(np.asarray(D, float))
        c = lN - np.log(params["N_ref"] if self.uses_ref else 1.0)
        return np.exp(self.log_l(self.to_theta(params), lN, lD, c)[0])

    def starts(self) -> Arr:
        return np.array(list(itertools.product(*self.grid)), float)  # (n_starts, p)


_AB = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)  # Epoch's grid: a, b in 0..25, e in -1..1, exponents 0..2
_E = (-1.0, -0.5, 0.0, 0.5, 1.0)
_EXP = (0.0, 0.5, 1.0, 1.5, 2.0)
CHINCHILLA = Form("chinchilla", ("log_A", "log_B", "log_E", "alpha", "beta"),
                  (_AB, _AB, _E, _EXP, _EXP), _chinchilla,
                  formula="L = E + A/N^alpha + B/D^beta")
FARSEER = Form("farseer", ("log_A", "log_B", "log_E", "alpha", "beta0", "beta1"),
               (_AB, _AB, _E, _EXP, _EXP, (0.0,)), _farseer, uses_ref=True,  # beta1 starts at 0
               formula="L = E + A/N^alpha + B/D^(beta0 + beta1 (log N - log N_ref))")
_SCALE = (5.0, 10.0, 15.0, 20.0, 25.0, 30.0)  # Kaplan's A, B are sizes (N_c, D_c): log A ~ log N
KAPLAN = Form("kaplan", ("log_A", "log_B", "log_E", "alpha", "beta"),
              (_SCALE, _SCALE, _E, (0.25, 0.5, 1.0, 1.5), (0.25, 0.5, 1.0)), _kaplan,
              bounds=((None, None),) * 3 + ((0.0, None), (0.01, None)),
              formula="L = E + ((A/N)^(alpha/beta) + B/D)^beta")
FORMS = {f.name: f for f in (CHINCHILLA, FARSEER, KAPLAN)}


@dataclass(frozen=True, eq=False)
class Fit:
    """A fitted loss law."""

    form: Form
    params: dict[str, float]  # natural units (A, B, E, exponents), plus N_ref for farseer
    theta: Arr  # (p,) optimised coordinates, in form.raw order
    objective: float  # sum of Huber losses on log L at the optimum
    n: int  # points fitted

    def predict(self, N: Arr, D: Arr) -> Arr:
        return self.form.predict(self.params, N, D)


def _data(N, D, L) -> tuple[Arr, Arr, Arr]:
    N, D, L = (np.asarray(v, float).ravel() for v in (N, D, L))
    if not (len(N) == len(D) == len(L)) or len(N) < 2:
        raise ValueError(f"N, D, L must be equal-length samples of >= 2, got "
                         f"{len(N)}, {len(D)}, {len(L)}")
    if not all(np.all(np.isfinite(v) & (v > 0)) for v in (N, D, L)):
        raise ValueError("N, D and L must be finite and positive")
    return np.log(N), np.log(D), np.log(L)


def _objective(theta: Arr, form: Form, lN: Arr, lD: Arr, c: Arr, y: Arr, delta: float):
    pred, jac = form.log_l(theta, lN, lD, c)
    r = pred - y
    return float(special.huber(delta, r).sum()), (jac * np.clip(r, -delta, delta)).sum(1)


def _optimise(form: Form, lN: Arr, lD: Arr, c: Arr, y: Arr, delta: float,
              starts: Arr) -> tuple[Arr, float]:
    best = (starts[0], np.inf)
    for x0 in starts:
        with np.errstate(over="ignore", invalid="ignore"):
            res = optimize.minimize(_objective, x0, args=(form, lN, lD, c, y, delta), jac=True,
                                    method="L-BFGS-B", bounds=form.bounds, options=_OPTIONS)
        if np.isfinite(res.fun) and res.fun < best[1]:
            best = (res.x, float(res.fun))
    if not np.isfinite(best[1]):
        raise RuntimeError(f"{form.name}: no start reached a finite objective")
    return best


def fit(form: Form | str, N: Arr, D: Arr, L: Arr, delta: float = 1e-3,
        starts: int | Arr | None = None, N_ref: float | None = None) -> Fit:
    """Huber fit of `form` in log space; the best of L-BFGS-B runs from several starts.
    starts: None = the whole grid (Epoch's method: 4500 starts for chinchilla, ~20 s on 63 points),
    k = the k grid points with the lowest objective before optimising (k=30: ~0.2 s), or an (m, p)
    array of starts in form.raw coordinates. delta=np.inf gives least squares on log L.
    N_ref (farseer only) defaults to the geometric mean of N."""
    form = FORMS[form] if isinstance(form, str) else form
    lN, lD, y = _data(N, D, L)
    ref = float(np.exp(lN.mean())) if N_ref is None else float(N_ref)
    c = lN - np.log(ref)
    grid = form.starts()
    if starts is None:
        x0 = grid
    elif np.ndim(starts) == 0:
        f0 = np.array([_objective(g, form, lN, lD, c, y, delta)[0] for g in grid])
        x0 = grid[np.argsort(np.nan_to_num(f0, nan=np.inf))[:int(starts)]]
    else:
        x0 = np.atleast_2d(np.asarray(starts, float))
    theta, obj = _optimise(form, lN, lD, c, y, delta, x0)
    params = form.to_params(theta) | ({"N_ref": ref} if form.uses_ref else {})
    return Fit(form, params, np.asarray(theta, float), obj, len(y))


def residuals(fit: Fit, N: Arr, D: Arr, L: Arr) -> Arr:
    """(n,) log actual - log predicted; positive = loss higher than the law predicts."""
    return np.log(np.asarray(L, float)) - np.log(fit.predict(N, D))


def _refits(f: Fit, N: Arr, D: Arr, L: Arr, n_boot: int, seed: int, delta: float) -> list[Fit]:
    """Refits on `n_boot` resamples of the points, each warm-started from the full-data optimum."""
    N, D, L = (np.asarray(v, float).ravel() for v in (N, D, L))
    rng = np.random.default_rng(seed)
    ref = f.params.get("N_ref")
    return [fit(f.form, N[i], D[i], L[i], delta, starts=f.theta[None], N_ref=ref)
            for i in rng.integers(0, len(N), size=(n_boot, len(N)))]


def bootstrap_fit(form: Form | str, N: Arr, D: Arr, L: Arr, n_boot: int = 200, seed: int = 0,
                  level: float = 0.95, delta: float = 1e-3, starts: int | Arr | None = None,
                  ) -> tuple[Fit, dict[str, tuple[float, float]]]:
    """Full-data fit and percentile intervals of each parameter over refits on resampled points."""
    f = fit(form, N, D, L, delta, starts)
    boots = _refits(f, N, D, L, n_boot, seed, delta)
    q = [0.5 - level / 2, 0.5 + level / 2]
    cis = {}
    for name in f.form.names:
        lo, hi = np.quantile([b.params[name] for b in boots], q)
        cis[name] = (float(lo), float(hi))
    return f, cis


@dataclass(frozen=True, eq=False)
class Extrapolation:
    """A law fitted on training points and judged on held-out ones."""

    fit: Fit  # on the training points
    residuals: Arr  # (n_test,) log actual - log predicted on the held-out points
    bias: Estimate  # mean held-out log residual (> 0: loss higher than predicted)
    mae: Estimate  # mean held-out |log residual|


def extrapolation(form: Form | str, N: Arr, D: Arr, L: Arr, train_mask: Sequence[bool],
                  n_boot: int = 200, seed: int = 0, level: float = 0.95, delta: float = 1e-3,
                  starts: int | Arr | None = None) -> Extrapolation:
    """Fit on N[train_mask] etc., predict the rest. Intervals: percentiles over refits on
    resampled training points (n in the Estimates = number of training points)."""
    N, D, L = (np.asarray(v, float).ravel() for v in (N, D, L))
    m = np.asarray(train_mask, bool)
    if m.shape != N.shape or m.all() or not m.any():
        raise ValueError("train_mask must mark some, but not all, of the points")
    f = fit(form, N[m], D[m], L[m], delta, starts)
    r = residuals(f, N[~m], D[~m], L[~m])
    boots = []  # (n_boot, 2): held-out mean and mean |.| log residual of each refit
    for b in _refits(f, N[m], D[m], L[m], n_boot, seed, delta):
        rb = residuals(b, N[~m], D[~m], L[~m])
        boots.append((rb.mean(), np.abs(rb).mean()))
    lo, hi = np.quantile(boots, [0.5 - level / 2, 0.5 + level / 2], axis=0)
    n = int(m.sum())
    return Extrapolation(f, r, Estimate(float(r.mean()), float(lo[0]), float(hi[0]), level, n),
                         Estimate(float(np.abs(r).mean()), float(lo[1]), float(hi[1]), level, n))
