"""Public (N, D, loss) points for the loss-law notebook, shipped in `nblib/data/scaling/`
(provenance and licences in its README), or read from a URL or file.

- `load_gadre2024`: the 104 models of Gadre et al. 2024 (arXiv 2403.08540; 11M–6.9B parameters,
  5–640 tokens per parameter, three training sets, eight validation sets).
- `load_epoch_chinchilla`: Epoch's digitisation of Chinchilla's Fig. 4 (Besiroglu et al. 2024,
  repo epoch-research/analyzing-chinchilla, `data/svg_extracted_data.csv`, 245 rows).

A URL that cannot be fetched or a missing file raises `ScalingDataUnavailable` (both a
FileNotFoundError and a ConnectionError); the packaged copies need no network.
"""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd

PACKAGED = "packaged"  # the source name of the copies shipped in nblib/data/scaling/
DATA_DIR = Path(__file__).parent / "scaling"
EPOCH_CHINCHILLA_URL = ("https://raw.githubusercontent.com/epoch-research/analyzing-chinchilla/"
                        "main/data/svg_extracted_data.csv")
TIMEOUT_S = 10


class ScalingDataUnavailable(FileNotFoundError, ConnectionError):
    """Public scaling data could not be read (offline, bad URL or missing file)."""


def _read(source: str | Path, default_url: str, packaged: str = "") -> bytes:
    src = str(source)
    if src == PACKAGED:
        return (DATA_DIR / packaged).read_bytes()
    hint = (f"This data is optional (default URL: {default_url}); "
            "the notebook continues with its own grid of runs.")
    if src.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(src, timeout=TIMEOUT_S) as resp:
                return resp.read()
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            raise ScalingDataUnavailable(f"could not fetch {src}: {e}. {hint}") from e
    path = Path(src).expanduser()
    if not path.is_file():
        raise ScalingDataUnavailable(f"no file at {path}. {hint}")
    return path.read_bytes()


def load_epoch_chinchilla(source: str | Path = PACKAGED, drop_highest: int = 0,
                          ) -> pd.DataFrame:
    """Epoch's Chinchilla points as columns N (parameters), D (tokens = FLOP / (6 N)), loss, source.
    `source`: "packaged" (the shipped copy), a path or a URL (EPOCH_CHINCHILLA_URL). Epoch's own
    refit drops the 5 highest-loss points: pass drop_highest=5 to do the same."""
    df = pd.read_csv(io.BytesIO(_read(source, EPOCH_CHINCHILLA_URL,
                                      "epoch_chinchilla_svg_extracted.csv")))
    missing = {"Model Size", "Training FLOP", "loss"} - set(df.columns)
    if missing:
        raise ValueError(f"{source} lacks Epoch's columns {sorted(missing)}; "
                         f"has {list(df.columns)}")
    N = df["Model Size"].astype(float)
    out = pd.DataFrame({"N": N, "D": df["Training FLOP"].astype(float) / (6 * N),
                        "loss": df["loss"].astype(float), "source": "epoch_chinchilla"})
    if drop_highest:
        out = out.drop(out["loss"].nlargest(drop_highest).index)
    return out.reset_index(drop=True)


GADRE_FILE = "gadre2024_overtraining_losses.csv"
GADRE_DATASETS = ("c4_original", "rpj", "rw_original")
GADRE_OWN_EVAL = {"c4_original": "loss_c4_val", "rpj": "loss_paloma_redpajama",
                  "rw_original": "loss_paloma_falcon-refinedweb"}  # each training set's own


def gadre_eval_sets() -> list[str]:
    """The validation sets of the Gadre table ("own": each training set's own distribution)."""
    head = pd.read_csv(DATA_DIR / GADRE_FILE, nrows=0)
    return ["own", *(c.removeprefix("loss_") for c in head.columns if c.startswith("loss_"))]


def load_gadre2024(eval_set: str = "own", source: str | Path = PACKAGED,
                   embeddings: bool = False) -> pd.DataFrame:
    """Gadre et al.'s models as columns model, dataset, N, D, tpp, multiplier, loss, source.

    eval_set: "own" (each training set's own validation distribution: C4 for C4, Paloma's
    RedPajama and RefinedWeb subsets for the others) or one of the table's eight (`c4_val`,
    `paloma_ptb`, ...); N counts non-embedding parameters unless `embeddings`; tpp = D / N."""
    sets = gadre_eval_sets()
    if eval_set not in sets:
        raise ValueError(f"eval_set={eval_set!r}: must be one of {sets}")
    df = pd.read_csv(io.BytesIO(_read(source, "", GADRE_FILE)))
    column = (df.dataset.map(GADRE_OWN_EVAL) if eval_set == "own"
              else pd.Series(f"loss_{eval_set}", index=df.index))
    loss = [df.at[i, c] for i, c in column.items()]
    N = df["params" if embeddings else "params_no_embed"].astype(float)
    out = pd.DataFrame({"model": df["name"], "dataset": df.dataset, "N": N,
                        "D": df.tokens.astype(float), "multiplier": df.chinchilla_multiplier,
                        "loss": pd.to_numeric(pd.Series(loss, index=df.index)),
                        "source": "gadre2024"})
    return out.assign(tpp=out.D / out.N).dropna(subset=["loss"]).reset_index(drop=True)
