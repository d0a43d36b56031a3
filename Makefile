# The two commands people type: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUN_VERSION := 1.4.5
BUN := $(CURDIR)/.tools/node_modules/bun/bin/bun.exe

export REFLEX_BUN_PATH := $(BUN)
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run dev test bench migrate bootstrap rotate-keys clean deps dev-deps worker livekit-setup background

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

$(BUN):
	npm install --silent --prefix .tools bun@$(BUN_VERSION)
	test -x $(BUN)

deps: $(VENV)/.runtime $(BUN)
dev-deps: $(VENV)/.dev $(BUN)

migrate: $(VENV)/.runtime
	$(PY) -m alembic upgrade head

bootstrap: migrate
	$(PY) -m voice_platform.cli bootstrap

## make run: install, migrate the embedded SQLite database, create the first admin, serve the production build.
run: deps bootstrap
	$(VENV)/bin/reflex run --env prod

## make dev: same, with hot reload.
dev: deps bootstrap
	$(VENV)/bin/reflex run

## make test: the whole suite (unit, API on PostgreSQL when reachable, browser), in two runs: the
## tests that may share the machine, in TEST_WORKERS processes (pytest-xdist; each its own
## database), then SERIAL_TESTS one at a time: the browser tests share one app server, and
## schemathesis's generated cases collapse into one item under xdist. With PYTEST_ARGS: one plain run.
TEST_WORKERS ?= 2
SERIAL_TESTS := tests/e2e tests/api/test_schemathesis.py tests/api/test_openapi_agrees.py
test: dev-deps
ifdef PYTEST_ARGS
	$(PY) -m pytest $(PYTEST_ARGS)
else
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(addprefix --ignore=,$(SERIAL_TESTS))
	$(PY) -m pytest $(SERIAL_TESTS)
endif

## make worker: the LiveKit worker that answers calls (needs LIVEKIT_URL/_API_KEY/_API_SECRET, GOOGLE_API_KEY).
## WORKER_MODE=dev for development logging.
WORKER_MODE ?= start
worker: migrate
	$(PY) -m worker $(WORKER_MODE)

## make background: the background loops (webhooks, analyses, summary e-mails, campaigns) in a process
## of their own, for web processes run with BACKGROUND_WORK=false (README, "Deploy and scale").
background: migrate
	$(PY) -m voice_platform.cli background

bench: dev-deps
	$(PY) -m bench.run

rotate-keys: migrate
	$(PY) -m voice_platform.cli rotate-keys

## make livekit-setup: create or update LiveKit's inbound SIP trunk (every platform number) and dispatch rule.
livekit-setup: migrate
	$(PY) -m voice_platform.cli livekit-setup

clean:
	rm -rf .web .states data/*.db test-artifacts
