# Two commands do everything on a machine with only Python 3.11+ and make:
#   make demo   environment from the lock, sample data, the whole pipeline through Dagster, an answer
#   make test   the test suite
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export METRICS_RAW_DIR ?= $(CURDIR)/data/raw
export METRICS_WAREHOUSE_DIR ?= $(CURDIR)/data/warehouse
UI_HOST ?= 127.0.0.1
UI_PORT ?= 3000
# METRICS_INSTANCE=postgres: the Dagster instance on PostgreSQL (pipelines/dagster.postgres.yaml,
# DAGSTER_PG_* variables; docs/deployment.md). Default: SQLite in $(DAGSTER_HOME).
INSTANCE_YAML := $(if $(filter postgres,$(METRICS_INSTANCE)),pipelines/dagster.postgres.yaml,pipelines/dagster.yaml)

.PHONY: env demo test test-fast ui lint format bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(BIN)/metrics: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

env: $(BIN)/metrics

$(DAGSTER_HOME)/dagster.yaml: $(INSTANCE_YAML)
	mkdir -p $(DAGSTER_HOME)
	cp $(INSTANCE_YAML) $@

demo: env $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/metrics demo

test: env
	bash .ci/ensure-browser
	bash .ci/ensure-postgres
	bash .ci/ensure-strace
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

test-fast: env
	$(BIN)/python -m pytest -q -n 2 -m "not e2e"

ui: env $(DAGSTER_HOME)/dagster.yaml
	@test -d $(METRICS_WAREHOUSE_DIR) || $(MAKE) demo
	$(BIN)/python -m pipelines.ui -w workspace.yaml --host $(UI_HOST) --port $(UI_PORT)

lint: env
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy
	$(BIN)/python -m metrics.model.dictionary --check
	$(BIN)/hadolint Dockerfile
	$(BIN)/check-jsonschema --schemafile deploy/values.schema.json deploy/values.yaml

format: env
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: env
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf data/raw data/warehouse $(DAGSTER_HOME)
