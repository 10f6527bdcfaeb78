"""Progress bars that read well both in JupyterLab and in executed (headless) notebooks."""

from __future__ import annotations

from collections.abc import Iterable


def progress(iterable: Iterable | None = None, *, interactive: bool, **kwargs):
    """`tqdm.auto` (a widget) when interactive; a plain text bar with rare refreshes headless.

    Headless, a widget bar is saved frozen at 0% and bloats the notebook, so the runner's
    notebooks use the text bar.
    """
    if interactive:
        from tqdm.auto import tqdm
        return tqdm(iterable, **kwargs)
    from tqdm.std import tqdm
    kwargs.setdefault("mininterval", 30.0)
    kwargs.setdefault("ascii", True)
    return tqdm(iterable, **kwargs)
