# Wheel Refinery: `make run` to use it, `make test` to test it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO ?= 1
# The suite runs against the real Postgres (pytest-django creates test_refinery beside it).
TEST_DATABASE_URL ?= postgres://root@127.0.0.1:5432/refinery

.PHONY: run test test-postgres test-sqlite lint format bench services images clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: python3.11 not found; install Python 3.11" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "error: $(PYTHON) is not Python 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(PY) manage.py ensure_admin
	@# The demo: refine a two-line requirements file so the index has something to install
	@# (DEMO=0 skips it; without network it warns and the server starts anyway).
	@if [ "$(DEMO)" != "0" ]; then \
		PUBLIC_URL=$${PUBLIC_URL:-http://$(HOST):$(PORT)} $(PY) manage.py refine refinery/deploy/demo-requirements.txt \
			|| echo "demo refine failed (offline?); serving anyway"; fi
	PUBLIC_URL=$${PUBLIC_URL:-http://$(HOST):$(PORT)} $(PY) manage.py serve --host $(HOST) --port $(PORT)

test: test-postgres test-sqlite

test-postgres: $(STAMP) services
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) -m pytest -m "not sqlite" $(PYTEST_ARGS)

test-sqlite: $(STAMP)
	DATABASE_URL=sqlite:///$(CURDIR)/var/test-smoke.sqlite3 $(PY) -m pytest -m sqlite $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP) services
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/queue_claim.py
	$(PY) bench/plan.py
	$(PY) bench/build_overhead.py
	$(PY) bench/dag_makespan.py
	$(PY) bench/index.py

services:
	@.ci/services

# Builder images for the podman runner, made offline (debootstrap + podman import), and the
# Contents indexes repairs look packages up in.
images: $(STAMP)
	$(PY) manage.py migrate --no-input --verbosity 0
	$(PY) manage.py build_image --arch amd64 --if-missing
	$(PY) manage.py build_image --arch s390x --if-missing
	$(PY) manage.py contents_index --arch amd64 --if-missing
	$(PY) manage.py contents_index --arch s390x --if-missing

clean:
	rm -rf $(VENV) var/*.sqlite3* .pytest_cache .mypy_cache .ruff_cache
