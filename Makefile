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

.PHONY: setup run reference test test-fast report lab bench doctor clean-runs

$(STAMP): pyproject.toml requirements-nodeps.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install everything

run: $(STAMP)  ## run notebooks headlessly: make run [NB=09] [PROFILE=smoke] [WORKERS=2]
	$(PY) -m nblib run $(NB) --profile $(PROFILE) --workers $(WORKERS)

reference: $(STAMP)  ## re-run at the default profile and publish figures to figures/<slug>/
	$(PY) -m nblib run $(NB) --profile default --workers $(WORKERS) --reference --force

test: $(STAMP)  ## the whole test suite (unit tests + every notebook at the smoke profile)
	$(PY) -m pytest

test-fast: $(STAMP)  ## unit tests only (no notebook execution)
	$(PY) -m pytest -m "not notebooks"

report: $(STAMP)  ## HTML report per run and papermill_runs/index.html
	$(PY) -m nblib report

lab: $(STAMP)  ## JupyterLab with the project's kernel registered
	$(PY) -m ipykernel install --user --name nblib --display-name "Python (nblib)"
	$(PY) -m jupyter lab notebooks/

bench: $(STAMP)  ## benchmarks (ratios against a reference loop in the same process)
	$(PY) benchmarks/icl_train_overhead.py
	$(PY) benchmarks/train_throughput.py

doctor: $(STAMP)  ## versions, kernels, paths
	$(PY) -m nblib doctor

clean-runs:  ## delete every run record (papermill_runs/ keeps its README)
	find papermill_runs -mindepth 1 -not -name README.md -delete
