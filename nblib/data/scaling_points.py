"""Optional public (N, D, loss) points for the loss-law notebook, fetched when run (not vendored).

`load_epoch_chinchilla` reads Epoch's digitisation of Chinchilla's Fig. 4 (Besiroglu et al. 2024,
repo epoch-research/analyzing-chinchilla, `data/svg_extracted_data.csv`, 245 rows). Offline or a
missing file raises `ScalingDataUnavailable` (both a FileNotFoundError and a ConnectionError), so a
notebook can catch it and carry on with its own grid of runs.
"""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd

EPOCH_CHINCHILLA_URL = ("https://raw.githubusercontent.com/epoch-research/analyzing-chinchilla/"
                        "main/data/svg_extracted_data.csv")
TIMEOUT_S = 10


class ScalingDataUnavailable(FileNotFoundError, ConnectionError):
    """Public scaling data could not be read (offline, bad URL or missing file)."""


def _read(source: str | Path, default_url: str) -> bytes:
    src = str(source)
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


def load_epoch_chinchilla(source: str | Path = EPOCH_CHINCHILLA_URL, drop_highest: int = 0,
                          ) -> pd.DataFrame:
    """Epoch's Chinchilla points as columns N (parameters), D (tokens = FLOP / (6 N)), loss, source.
    Epoch's own refit drops the 5 highest-loss points: pass drop_highest=5 to do the same."""
    df = pd.read_csv(io.BytesIO(_read(source, EPOCH_CHINCHILLA_URL)))
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
