"""Shareable reports: an executed notebook as HTML without code, opening with a verdict box;
the site over all runs is nblib.site.

A report leaves out what only makes sense in JupyterLab (cells tagged `interactive`), progress
bars' stderr, and, for any run but the reference configuration, the cell tagged
`reference-interpretation` (prose that describes the reference run's numbers, not this run's).
Nothing in it waits on the network: require.js is dropped (no widget state is kept) and MathJax
loads asynchronously.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from nblib.paths import runs_dir
from nblib.site import VERDICT_COLOURS

INTERACTIVE = "interactive"  # cell tag: JupyterLab-only (forms, pickers), left out of reports
INTERPRETATION = "reference-interpretation"  # cell tag: prose about the reference run's numbers


def _estimate_text(e: dict) -> str:
    """'0.113 [0.0222, 0.203] (95% CI, n = 192 items)' from a recorded estimate."""
    text = f"{e['value']:.3g}"
    if e.get("low") is not None and e.get("high") is not None:
        text += f" [{e['low']:.3g}, {e['high']:.3g}]"
    extra = []
    if e.get("level") is not None:
        extra.append(f"{e['level']:.0%} CI")
    if e.get("n") is not None:
        extra.append(f"n = {e['n']} {e.get('unit') or ''}".rstrip())
    return text + (f" ({', '.join(extra)})" if extra else "")


def _is_estimate(x) -> bool:
    return isinstance(x, dict) and isinstance(x.get("value"), int | float) and "low" in x


def _components(verdict: dict) -> list[str]:
    """One line per part of a compound verdict (its label and estimate), else per estimate among
    its details: the numbers that decided the label."""
    details = verdict.get("details") or {}
    parts = details.get("parts")
    if isinstance(parts, dict) and parts:
        return [f"<b>{html.escape(name)}</b>: {_label_html(p.get('label', '?'))} "
                + (html.escape(_estimate_text(p["estimate"])) if _is_estimate(p.get("estimate"))
                   else "") + (f" — {html.escape(p['claim'])}" if p.get("claim") else "")
                for name, p in parts.items() if isinstance(p, dict)]
    return [f"<b>{html.escape(name)}</b>: {html.escape(_estimate_text(e))}"
            for name, e in details.items() if _is_estimate(e)]


def _label_html(label: str) -> str:
    colour = VERDICT_COLOURS.get(label, "#57606a")
    return (f"<span style='background:{colour};color:white;border-radius:4px;padding:1px 6px;"
            f"font-weight:600'>{html.escape(label)}</span>")


def is_reference_config(m: dict) -> bool:
    """A run at the default profile with no overrides: the configuration of the reference run."""
    return m.get("profile") == "default" and not {
        k: v for k, v in (m.get("params") or {}).items() if k != "interactive"}


def verdict_box(m: dict, question: str) -> str:
    """The HTML box a report opens with: the question, the headline verdict with its estimate and
    the components that decided it, and the run's profile, id, date and commit."""
    verdict = m.get("verdict") if isinstance(m.get("verdict"), dict) else {}
    env = m.get("env") or {}
    commit = (env.get("git_sha") or "?")[:7] + (" (uncommitted changes)" if env.get("git_dirty")
                                               else "")
    rows = [f"<div style='font-size:1.25em;font-weight:600;margin-bottom:.4em'>"
            f"{html.escape(question or m.get('notebook', ''))}</div>"]
    if m.get("profile") == "smoke":
        rows.append("<div style='background:#fff8c5;padding:.4em .6em;margin:.4em 0'><b>Smoke "
                    "run: a check that the code runs end to end at tiny size, not a result.</b> "
                    "Its numbers and verdict say nothing about the question; the reference run "
                    "(default profile) does.</div>")
    if verdict:
        line = _label_html(verdict.get("label", "?"))
        if verdict.get("claim"):
            line += f" {html.escape(verdict['claim'])}"
        rows.append(f"<div style='margin:.3em 0'>{line}</div>")
        if _is_estimate(verdict.get("estimate")):
            rows.append(f"<div>estimate: {html.escape(_estimate_text(verdict['estimate']))}"
                        + (f"; threshold {html.escape(str(verdict.get('direction', '')))} "
                           f"{verdict['threshold']:.3g}"
                           if isinstance(verdict.get("threshold"), int | float) else "")
                        + "</div>")
        parts = _components(verdict)
        if parts:
            rows.append("<div style='margin-top:.3em'>decided by:<ul style='margin:.2em 0'>"
                        + "".join(f"<li>{p}</li>" for p in parts) + "</ul></div>")
    else:
        status = m.get("status", "?")
        why = f": {html.escape(str(m['error']))}" if m.get("error") else ""
        rows.append(f"<div><b>No verdict recorded</b> (run {html.escape(status)}{why}).</div>")
    meta = [f"profile <b>{html.escape(str(m.get('profile', '?')))}</b>",
            f"run <code>{html.escape(str(m.get('run_id', '?')))}</code>",
            f"finished {html.escape(str(m.get('finished') or m.get('started') or '?'))}",
            f"commit <code>{html.escape(commit)}</code>"]
    if isinstance(m.get("duration_s"), int | float):
        meta.append(f"{m['duration_s']:.0f} s")
    rows.append(f"<div style='color:#57606a;margin-top:.4em'>{' · '.join(meta)}</div>")
    return ("<div class='nblib-verdict' style='border:2px solid #d0d7de;border-radius:8px;"
            "padding:.8em 1em;margin:1em auto;max-width:70em;font-family:system-ui,sans-serif'>"
            + "".join(rows) + "</div>")


def _prepare(nb, reference_config: bool, slug: str) -> None:
    """Drop interactive cells and stderr; replace the reference interpretation unless this run is
    the reference configuration."""
    import nbformat

    kept = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if INTERACTIVE in tags:
            continue
        if INTERPRETATION in tags and not reference_config:
            kept.append(nbformat.v4.new_markdown_cell(
                "*The reference run's interpretation is left out of this report: it describes the "
                f"reference run's numbers (`figures/{slug}/reference_run.json`), not this run's.*"))
            continue
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        kept.append(cell)
    nb.cells = kept


_REQUIRE_JS = re.compile(r'<script src="[^"]*require[^"]*"></script>\s*')
_MATHJAX = re.compile(r'<script src="(https?://[^"]*mathjax[^"]*)">')


def render_run(run_dir: str | Path) -> Path:
    """<run>/notebook.ipynb -> <run>/report.html: a verdict box (from <run>/metrics.json), then
    outputs and figures only (no code)."""
    import nbformat
    from nbconvert import HTMLExporter

    from nblib.record import read_json
    from nblib.site import question

    run_dir = Path(run_dir)
    m = read_json(run_dir / "metrics.json")
    slug = m.get("notebook") or run_dir.parent.name
    nb = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    nb.metadata.pop("widgets", None)  # widget state needs a CDN at view time; figures are static
    _prepare(nb, is_reference_config(m), slug)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    body = _REQUIRE_JS.sub("", body)
    body = _MATHJAX.sub(r'<script async src="\1">', body)
    label = (m.get("verdict") or {}).get("label") if isinstance(m.get("verdict"), dict) else None
    title = f"{slug} · {m.get('profile', '?')}" + (f" · {label}" if label else "")
    body = body.replace("<title>Notebook</title>", f"<title>{html.escape(title)}</title>", 1)
    box = verdict_box(m, question(slug))
    body = re.sub(r"(<body[^>]*>)", lambda match: match[1] + box, body, count=1)
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
