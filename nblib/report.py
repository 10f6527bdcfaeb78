"""Shareable reports: an executed notebook as HTML without code, and an index over all runs."""

from __future__ import annotations

import html
import json
from pathlib import Path

from nblib.paths import runs_dir
from nblib.record import load_runs, read_run

STATUS_COLOURS = {"ok": "#1a7f37", "failed": "#cf222e", "running": "#9a6700", "interactive": "#57606a"}
VERDICT_COLOURS = {"SUPPORTED": "#1a7f37", "NOT SUPPORTED": "#cf222e", "INCONCLUSIVE": "#9a6700"}


def render_run(run_dir: str | Path) -> Path:
    """<run>/notebook.ipynb -> <run>/report.html with inputs hidden (outputs and figures only)."""
    import nbformat
    from nbconvert import HTMLExporter

    run_dir = Path(run_dir)
    nb = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    nb.metadata.pop("widgets", None)  # widget state needs a CDN at view time; figures are static
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    out = run_dir / "report.html"
    out.write_text(body)
    return out


def _cell(text: str, colour: str | None = None) -> str:
    style = f' style="color:{colour};font-weight:600"' if colour else ""
    return f"<td{style}>{html.escape(str(text))}</td>"


def _link(href: Path | None, text: str, root: Path) -> str:
    if href is None or not href.exists():
        return "<td></td>"
    return f'<td><a href="{html.escape(str(href.relative_to(root)))}">{html.escape(text)}</a></td>'


def build_index(root: str | Path | None = None) -> Path:
    """papermill_runs/index.html: one row per run with links to its report and notebook."""
    root = Path(root) if root is not None else runs_dir()
    runs = load_runs(root)
    rows = []
    for _, r in (runs.sort_values(["notebook", "started"]) if len(runs) else runs).iterrows():
        run = read_run(r["dir"])
        run_dir = Path(r["dir"])
        verdict = run.get("verdict") or {}
        if not isinstance(verdict, dict):  # a bare label, as load_runs also accepts
            verdict = {"label": str(verdict)}
        params = ", ".join(f"{k}={json.dumps(v)}" for k, v in (run.get("params") or {}).items()
                           if k != "interactive")
        duration = "" if run.get("duration_s") is None else f"{run['duration_s']:.0f} s"
        rows.append("<tr>" + "".join([
            _cell(run.get("notebook", "")), _cell(run.get("profile", "")), _cell(params or "(defaults)"),
            _cell(verdict.get("label", ""), VERDICT_COLOURS.get(verdict.get("label"))),
            _cell(verdict.get("claim", "")), _cell(duration),
            _cell(run.get("status", ""), STATUS_COLOURS.get(run.get("status"))),
            _cell((run.get("finished") or run.get("started") or "")[:16].replace("T", " ")),
            _link(run_dir / "report.html", "report", root),
            _link(run_dir / "notebook.ipynb", "notebook", root),
        ]) + "</tr>")
    header = "".join(f"<th>{h}</th>" for h in ("notebook", "profile", "parameters", "verdict", "claim",
                                               "duration", "status", "date (UTC)", "", ""))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>nblib runs</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:.35em .7em;text-align:left;vertical-align:top}}
th{{background:#f6f8fa}}td:nth-child(5){{max-width:32em}}</style></head><body>
<h1>Notebook runs</h1><p>{len(rows)} run(s) under <code>{html.escape(str(root))}</code>.</p>
<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>"""
    out = root / "index.html"
    root.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return out


def build_all(root: str | Path | None = None) -> Path:
    """Render every run's missing report.html, then the index."""
    root = Path(root) if root is not None else runs_dir()
    for nb in root.glob("*/*/notebook.ipynb"):
        if not (nb.parent / "report.html").exists():
            render_run(nb.parent)
    return build_index(root)
