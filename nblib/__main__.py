"""python -m nblib run | sweep | report | list | gallery | prepare | doctor"""

from __future__ import annotations

import argparse
import sys

from nblib.config import ConfigError


def _specs(args) -> list:
    from nblib.runner import RunSpec, find_notebook, list_notebooks, parse_value

    overrides = {name: parse_value(value) for name, value in args.param}
    notebooks = (
        list_notebooks()
        if args.notebooks == ["all"]
        else [find_notebook(n) for n in args.notebooks]
    )
    return [RunSpec(nb, args.profile, overrides) for nb in notebooks]


def _print_result(result: dict) -> None:
    verdict = (result.get("verdict") or {}).get("label", "-")
    extra = " (already recorded, skipped)" if result.get("skipped") else ""
    error = f"\n    {result['error']}" if result.get("error") else ""
    kept = f"\n    the ok record is kept: {result['kept']}" if result.get("kept") else ""
    print(f"[{result.get('status')}] {result.get('notebook')} {result.get('run_id', '')} "
          f"verdict={verdict} {result.get('duration_s', '-')} s{extra}{error}\n"
          f"    {result.get('dir', '')}{kept}", flush=True)


def cmd_run(args) -> int:
    from nblib.report import build_index
    from nblib.runner import check_options, run_many, run_notebook

    check_options(workers=args.workers, threads=args.threads, timeout=args.timeout)
    specs = _specs(args)
    args.workers = max(1, min(args.workers, len(specs)))  # one notebook runs in-process, all cores
    opts = dict(timeout=args.timeout, force=args.force, reference=args.reference,
                kernel=args.kernel)
    if len(specs) == 1 and args.workers == 1:
        for spec in specs:
            spec.parameters()  # fail on bad input before the run folder is touched
        results = [run_notebook(specs[0], threads=args.threads, progress=True, **opts)]
        _print_result(results[0])
    else:
        results = run_many(specs, workers=args.workers, threads=args.threads,
                           on_result=_print_result, **opts)
    index = build_index()
    print(f"report index: {index}")
    return 0 if all(r.get("status") == "ok" for r in results) else 1


def cmd_sweep(args) -> int:
    from nblib.report import build_index
    from nblib.runner import check_options, parse_value
    from nblib.sweep import SweepConfig, load_grid, sweep

    check_options(workers=args.workers, threads=args.threads, timeout=args.timeout)
    if args.scheduler and args.workers != 1:
        raise ConfigError("--workers sizes a local process pool; with --scheduler the cluster's "
                          "workers run the sweep (give one or the other)")
    cfg = SweepConfig(args.notebook, load_grid(args.grid), profile=args.profile,
                      fixed={name: parse_value(value) for name, value in args.param},
                      scheduler=args.scheduler, workers=args.workers, threads=args.threads,
                      timeout=args.timeout, force=args.force, kernel=args.kernel)
    results = sweep(cfg, on_result=_print_result)
    print(f"{sum(r.get('status') == 'ok' for r in results)}/{len(results)} ok; "
          f"report index: {build_index()}")
    return 0 if all(r.get("status") == "ok" for r in results) else 1


def cmd_report(args) -> int:
    from nblib.report import build_all

    print(f"report index: {build_all(args.root)}")
    return 0


def cmd_gallery(args) -> int:
    from nblib import gallery

    if args.check:
        diff = gallery.check_readme()
        print("\n".join(diff) if diff else "README gallery matches the reference records")
        return 1 if diff else 0
    print(f"gallery written into {gallery.write_readme()}")
    return 0


def cmd_prepare(args) -> int:
    from nblib.prepare import prepare

    prepare()
    return 0


def cmd_list(args) -> int:
    from nblib.runner import find_notebook, list_notebooks, parameters_cell, profiles
    from nblib.site import question

    if not args.notebook:  # one line per notebook; reads JSON only (no experiment is imported)
        for nb in list_notebooks():
            print(f"{nb.stem:32s} {question(nb.stem)}  [{', '.join(profiles(nb.stem))}]")
        print("parameters of one notebook: python -m nblib list 09")
        return 0
    from nblib.config import field_help
    from nblib.runner import config_class

    nb = find_notebook(args.notebook)
    cls = config_class(nb)
    helps = field_help(cls) if cls else {}
    print(f"{nb.stem}: {question(nb.stem)}\n  profiles: {', '.join(profiles(nb.stem))}")
    for name, default in parameters_cell(nb).items():
        print(f"    {name} = {default!r}  # {helps.get(name, '')}")
    return 0


def cmd_doctor(args) -> int:
    from nblib import doctor

    if args.json:
        import json

        from nblib.env import env_info
        from nblib.paths import repo_root, runs_dir

        print(json.dumps({**env_info(), "repo_root": str(repo_root()),
                          "runs_dir": str(runs_dir())}, indent=2))
    results = doctor.checks()
    print(doctor.report(results))
    return 0 if all(c.ok for c in results) else 1


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="default",
                   help="parameter overlay: default, smoke, full, ...")
    p.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="override one parameter (a Python literal or a string)")
    p.add_argument("--workers", type=int, default=1, help="parallel runs (processes)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per run (default cores/workers)")
    p.add_argument("--timeout", type=float, default=None, help="per-cell timeout in seconds")
    p.add_argument("--force", action="store_true", help="re-run even if already recorded ok")
    p.add_argument("--kernel", default="python3", help="Jupyter kernel name")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nblib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run notebooks ('all', a number like 09, a slug or a path)")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--reference", action="store_true", help="copy the figures to figures/<slug>/")
    _run_options(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("sweep", help="one run per point of a YAML grid, resumable")
    p.add_argument("notebook")
    p.add_argument("--grid", required=True,
                   help="YAML: {name: [values]} or a list of {name: value}")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a Dask cluster (e.g. tcp://head:8786) instead of local processes")
    _run_options(p)
    p.set_defaults(func=cmd_sweep)
    p = sub.add_parser("report", help="render missing HTML reports and the index")
    p.add_argument("--root", default=None, help="runs folder (default papermill_runs/)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("list", help="one line per notebook; `list 09`: its parameters")
    p.add_argument("notebook", nargs="?", default=None, help="a number like 09, a slug or a path")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("gallery",
                       help="regenerate the README gallery from figures/*/reference_run.json")
    p.add_argument("--check", action="store_true",
                   help="only compare; exit 1 if the README drifted")
    p.set_defaults(func=cmd_gallery)
    sub.add_parser("prepare", help="the one-time work: convert the packaged model, train the "
                   "notebooks' tokenizers (idempotent)").set_defaults(func=cmd_prepare)
    p = sub.add_parser("doctor", help="check what a run needs and say what to type for each "
                       "missing piece")
    p.add_argument("--json", action="store_true", help="also print versions and paths as JSON")
    p.set_defaults(func=cmd_doctor)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
