"""Shareable reports: an executed notebook as HTML without code;
the site over all runs is nblib.site."""

from __future__ import annotations

from pathlib import Path

from nblib.paths import runs_dir


def render_run(run_dir: str | Path) -> Path:
    """<run>/notebook.ipynb -> <run>/report.html with inputs hidden (outputs and figures only)."""
    import nbformat
    from nbconvert import HTMLExporter

    run_dir = Path(run_dir)
    nb = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    nb.metadata.pop("widgets", None)  # widget state needs a CDN at view time; figures are static
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    out = run_dir / "report.html"
    out.write_text(body)
    return out


def build_index(root: str | Path | None = None) -> Path:
    """The report site (nblib.site): papermill_runs/index.html and a page per notebook."""
    from nblib.site import build_site

    return build_site(root)


def build_all(root: str | Path | None = None) -> Path:
    """Render every run's missing report.html, then the site."""
    from nblib.record import ATTEMPT

    root = Path(root) if root is not None else runs_dir()
    for nb in root.glob("*/*/notebook.ipynb"):
        if not (nb.parent / "report.html").exists() and not ATTEMPT.search(nb.parent.name):
            render_run(nb.parent)
    return build_index(root)
