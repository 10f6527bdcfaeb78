"""The report site: static HTML over the run records, opened from the file system, offline.

papermill_runs/index.html lists every notebook's reference run (figures/<slug>/reference_run.json,
its figures committed next to it) and every run (notebook, question, profile, parameters, verdict,
duration, date, status), linking each run's `--no-input` report and figures.
papermill_runs/<slug>/index.html compares one notebook's runs and plots its sweeps: the verdict's
estimate (95 % CI) against each parameter that varies between the finished runs of one profile.
Links are relative; nothing is fetched from a network.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from nblib.paths import notebooks_dir, repo_root, runs_dir
from nblib.record import read_json, read_run, run_dirs, run_status

STATUS_COLOURS = {"ok": "#1a7f37", "failed": "#cf222e", "running": "#9a6700",
                  "stale": "#bc4c00", "interactive": "#57606a", "reference": "#0969da"}
VERDICT_COLOURS = {"SUPPORTED": "#1a7f37", "NOT SUPPORTED": "#cf222e", "INCONCLUSIVE": "#9a6700"}
CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:110em}
table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:.35em .7em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.q{max-width:24em}td.p{max-width:22em;font-size:.9em}
img.fig{max-width:46em;display:block;margin:1em 0}figcaption{color:#57606a;max-width:46em}
a.fig{margin-right:.6em;font-size:.9em}"""


@dataclass
class Run:
    """One row of the site: a run record, or a notebook's committed reference run."""

    slug: str  # notebook slug, e.g. 09_mlp_in_context
    run_id: str  # the run's folder name (derived from its parameters)
    profile: str  # parameter overlay it ran with
    params: dict  # the overrides it ran with (interactive left out)
    verdict: dict  # label, claim, estimate {value, low, high}, ... ({} when none was recorded)
    status: str  # ok, failed, running, stale (its process died), interactive; or "reference"
    duration_s: float | None  # wall time of the run, kernel start included
    date: str  # when it finished (or started), ISO 8601 UTC
    report: Path | None  # its --no-input HTML, when there is one
    figures: list[Path] = field(default_factory=list)  # its PNG figures, in the notebook's order
    values: dict = field(default_factory=dict)  # recorded values
    captions: dict[str, str] = field(default_factory=dict)  # figure name -> its caption


def _verdict(raw) -> dict:
    return raw if isinstance(raw, dict) else {"label": str(raw)} if raw else {}


def _ordered(figures: list[Path], made: list) -> tuple[list[Path], dict[str, str]]:
    """Figures in the order the notebook made them (as recorded), the rest after them by name;
    and their recorded captions."""
    order = {f.get("name"): i for i, f in enumerate(made) if isinstance(f, dict)}
    captions = {f["name"]: f.get("caption") or "" for f in made if isinstance(f, dict)}
    return sorted(figures, key=lambda f: (order.get(f.stem, len(order)), f.stem)), captions


def _shown_params(m: dict, slug: str) -> dict:
    """The overrides a run was given; for an interactive run (nothing injected), the config
    values that differ from the notebook's parameters cell: what the run really used."""
    params = {k: v for k, v in (m.get("params") or {}).items() if k != "interactive"}
    config = m.get("config")
    if params or m.get("status") != "interactive" or not isinstance(config, dict):
        return params
    from nblib.runner import parameters_cell

    path = notebooks_dir() / f"{slug}.ipynb"
    try:
        declared = parameters_cell(path)
    except Exception:  # a notebook renamed or removed since the run: show nothing rather than fail
        return params
    return {k: v for k, v in config.items() if k != "interactive" and k in declared
            and json.dumps(v, sort_keys=True) != json.dumps(declared[k], sort_keys=True)}


def _from_metrics(m: dict, run_dir: Path | None, figures: list[Path],
                  status: str | None = None) -> Run:
    report = run_dir / "report.html" if run_dir is not None else None
    slug = m.get("notebook") or ""
    made = m.get("figures") or (m.get("values") or {}).get("figures") or []
    figures, captions = _ordered(figures, made)
    return Run(slug=slug,
               run_id=m.get("run_id") or (run_dir.name if run_dir else ""),
               profile=m.get("profile") or "", verdict=_verdict(m.get("verdict")),
               params=_shown_params(m, slug),
               status=status or run_status(m), duration_s=m.get("duration_s"),
               date=m.get("finished") or m.get("started") or "", values=m.get("values") or {},
               report=report if report is not None and report.is_file() else None, figures=figures,
               captions=captions)


def load(root: Path, figures: Path) -> tuple[list[Run], list[Run]]:
    """(reference runs, one per notebook that has one; every run under `root`, a `running` run
    whose process is gone from this host shown as `stale`)."""
    runs = []
    for run_dir in run_dirs(root):
        m = read_run(run_dir)
        m.setdefault("notebook", run_dir.parent.name)
        runs.append(_from_metrics(m, run_dir, sorted(run_dir.glob("figures/*.png"))))
    references = []
    for path in sorted(figures.glob("*/reference_run.json")):
        m = read_json(path)
        m.setdefault("notebook", path.parent.name)
        run_dir = root / m["notebook"] / m.get("run_id", "?")
        references.append(_from_metrics(m, run_dir, sorted(path.parent.glob("*.png")), "reference"))
    runs.sort(key=lambda r: (r.slug, r.date))
    return references, runs


def question(slug: str) -> str:
    """The notebook's question: its title ('# 09 · Do MLPs learn in context?'), number dropped."""
    path = notebooks_dir() / f"{slug}.ipynb"
    return _title(str(path), path.stat().st_mtime_ns) if path.is_file() else ""


@lru_cache
def _title(path: str, mtime_ns: int) -> str:
    for cell in json.loads(Path(path).read_text()).get("cells", []):
        source = "".join(cell.get("source", "")).strip()
        if cell.get("cell_type") == "markdown" and source:
            return source.splitlines()[0].lstrip("#").split("·", 1)[-1].strip()
    return ""


# --- HTML pieces ---------------------------------------------------------------------------------

def _esc(text) -> str:
    return html.escape(str(text))


def _href(target: Path, page_dir: Path) -> str:
    return quote(Path(os.path.relpath(target, page_dir)).as_posix())


def _td(text, colour: str | None = None, cls: str | None = None, title: str | None = None) -> str:
    attrs = f' class="{cls}"' if cls else ""
    attrs += f' style="color:{colour};font-weight:600"' if colour else ""
    attrs += f' title="{_esc(title)}"' if title else ""
    return f"<td{attrs}>{_esc(text)}</td>"


def _params(params: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items()) or "(defaults)"


def _estimate(verdict: dict) -> str:
    est = verdict.get("estimate")
    if not isinstance(est, dict) or est.get("value") is None:
        return ""
    ci = f" [{est['low']:.3g}, {est['high']:.3g}]" if est.get("low") is not None else ""
    return f"{est['value']:.3g}{ci}"


def _duration(run: Run) -> str:
    return "" if run.duration_s is None else f"{run.duration_s:.0f}"


def _links(run: Run, page_dir: Path) -> str:
    parts = [f'<a href="{_href(run.report, page_dir)}">report</a>'] if run.report else []
    parts += [f'<a class="fig" href="{_href(f, page_dir)}">{_esc(f.stem)}</a>' for f in run.figures]
    return f"<td>{' '.join(parts)}</td>"


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            f"<style>{CSS}</style></head><body>{body}</body></html>")


def _table(header: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


INDEX_HEADER = ["notebook", "question", "profile", "parameters (overrides)", "verdict",
                "estimate [95% CI] (the claim's unit)", "duration (s, kernel start included)",
                "date (UTC)", "status", "report and figures"]


def _index_row(run: Run, root: Path) -> str:
    label = run.verdict.get("label", "")
    page = root / run.slug / "index.html"
    return "<tr>" + "".join([
        f'<td><a href="{_href(page, root)}">{_esc(run.slug)}</a></td>',
        _td(question(run.slug), cls="q"),
        _td(run.profile), _td(_params(run.params), cls="p"),
        _td(label, VERDICT_COLOURS.get(label), title=run.verdict.get("claim")),
        _td(_estimate(run.verdict)),
        _td(_duration(run)), _td(run.date[:16].replace("T", " ")),
        _td(run.status, STATUS_COLOURS.get(run.status)), _links(run, root)]) + "</tr>"


# --- the notebook page and its sweep plots
# -----------------------------------------------------------

def _varying(runs: list[Run]) -> list[str]:
    """Parameters that take more than one value across `runs`."""
    names = sorted({k for r in runs for k in r.params})
    return [
        k for k in names if len({json.dumps(r.params.get(k), sort_keys=True) for r in runs}) > 1
    ]


def plot_sweep(runs: list[Run], param: str, out: Path) -> Path | None:
    """The verdict's estimate (95 % CI) against `param`; None if no run recorded an estimate."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    points = [
        (r, r.verdict["estimate"])
        for r in runs
        if isinstance(r.verdict.get("estimate"), dict)
        and r.verdict["estimate"].get("value") is not None
    ]
    if not points:
        return None
    values = [r.params.get(param) for r, _ in points]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    labels = sorted({json.dumps(v) for v in values}) if not numeric else None
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, profile in enumerate(sorted({r.profile for r, _ in points})):
        sel = [(r, e) for r, e in points if r.profile == profile]
        xs = [
            r.params.get(param) if numeric else labels.index(json.dumps(r.params.get(param)))
            for r, _ in sel
        ]
        ys = [e["value"] for _, e in sel]
        lo = [e["value"] - e["low"] if e.get("low") is not None else 0 for _, e in sel]
        hi = [e["high"] - e["value"] if e.get("high") is not None else 0 for _, e in sel]
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=3, label=profile, color=f"C{i}")
    if numeric and min(values) > 0 and max(values) / min(values) >= 100:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(range(len(labels)), labels, rotation=20)
    threshold = points[0][0].verdict.get("threshold")
    if isinstance(threshold, int | float):
        ax.axhline(threshold, ls="--", c="k", lw=1, label="verdict threshold")
    first = points[0][0]
    ax.set(xlabel=param, ylabel="verdict estimate (95% CI)",
           title=f"{first.slug} ({first.profile}): estimate vs {param}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _notebook_page(slug: str, reference: Run | None, runs: list[Run], root: Path) -> Path:
    page_dir = root / slug
    body = [f'<p><a href="{_href(root / "index.html", page_dir)}">← all runs</a></p>',
            f"<h1>{_esc(slug)}</h1><p><b>{_esc(question(slug))}</b></p>"]
    if reference is not None:
        label = reference.verdict.get("label", "")
        body.append(
            "<h2>Reference run</h2><p><span "
            f'style="color:{VERDICT_COLOURS.get(label, "#000")};'
            f'font-weight:600">{_esc(label)}</span> '
            f"{_esc(reference.verdict.get('claim', ''))}<br>"
            f"estimate {_esc(_estimate(reference.verdict))} "
            f"· profile {_esc(reference.profile)} · "
            f"{_esc(_duration(reference))} s · {_esc(reference.date[:10])}</p>"
        )
        body += [
            f'<figure><img class="fig" alt="{_esc(f.stem)}" src="{_href(f, page_dir)}">'
            f"<figcaption>{_esc(reference.captions.get(f.stem) or f.stem)}</figcaption></figure>"
            for f in reference.figures
        ]
    body.append(f"<h2>Runs</h2><p>{len(runs)} run(s).</p>")
    rows = ["<tr>" + "".join([
        _td(r.profile), _td(_params(r.params), cls="p"),
        _td(r.verdict.get("label", ""), VERDICT_COLOURS.get(r.verdict.get("label"))),
        _td(_estimate(r.verdict)),
        _td(_duration(r)), _td(r.date[:16].replace("T", " ")),
        _td(r.status, STATUS_COLOURS.get(r.status)),
        _links(r, page_dir)]) + "</tr>" for r in runs]
    body.append(_table(["profile", "parameters (overrides)", "verdict",
                        "estimate [95% CI] (the claim's unit)",
                        "duration (s, kernel start included)", "date (UTC)", "status",
                        "report and figures"], rows))
    for old in page_dir.glob("sweep_*.png"):
        old.unlink()
    plots = []
    for profile in sorted({r.profile for r in runs}):  # a sweep: finished runs of one profile
        done = [r for r in runs if r.status == "ok" and r.profile == profile]
        plots += [
            plot_sweep(done, k, page_dir / f"sweep_{profile}_{k}.png") for k in _varying(done)
        ]
    plots = [p for p in plots if p]
    if plots:
        body.append("<h2>Sweeps</h2><p>The verdict's estimate against each parameter that varies "
                    "between the finished runs of one profile.</p>")
        body += [f'<img class="fig" alt="{_esc(p.stem)}" src="{_esc(p.name)}">' for p in plots]
    out = page_dir / "index.html"
    page_dir.mkdir(parents=True, exist_ok=True)
    out.write_text(_page(slug, "\n".join(body)))
    return out


def build_site(root: str | Path | None = None, figures: str | Path | None = None) -> Path:
    """Write <root>/index.html and a page per notebook; returns the index."""
    root = Path(root) if root is not None else runs_dir()
    figures = Path(figures) if figures is not None else repo_root() / "figures"
    references, runs = load(root, figures)
    slugs = sorted({r.slug for r in references + runs})
    by_ref = {r.slug: r for r in references}
    for slug in slugs:
        _notebook_page(slug, by_ref.get(slug), [r for r in runs if r.slug == slug], root)
    body = ("<h1>Notebook runs</h1>"
            f"<h2>Reference runs</h2><p>{len(references)} "
            "notebook(s): the default-profile run whose "
            "figures are committed under <code>figures/</code>.</p>"
            + _table(INDEX_HEADER, [_index_row(r, root) for r in references])
            + f"<h2>All runs</h2><p>{len(runs)} run(s) under <code>{_esc(root)}</code>.</p>"
            + _table(INDEX_HEADER, [_index_row(r, root) for r in runs]))
    root.mkdir(parents=True, exist_ok=True)
    out = root / "index.html"
    out.write_text(_page("nblib runs", body))
    return out
