# newsmon: two commands. `make run` sets up and runs one monitoring pass; `make test` sets up and runs the checks.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(CURDIR)/data
MONITOR ?= config/sample.yaml
PREFECT_PORT ?= 4200
SAMPLE_PORT ?= 8765
export PREFECT_HOME ?= $(DATA_DIR)/prefect
export PREFECT_API_URL ?= http://127.0.0.1:$(PREFECT_PORT)/api
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export NEWSMON_DATA_DIR ?= $(DATA_DIR)
# the sample monitor reads its feeds' port from NEWSMON_SAMPLE_PORT; `newsmon run` finds the
# local Prefect server through PREFECT_API_URL (and NEWSMON_PREFECT_PORT without it)
export NEWSMON_SAMPLE_PORT := $(SAMPLE_PORT)
export NEWSMON_PREFECT_PORT := $(PREFECT_PORT)

.PHONY: run test lint typecheck pytest bench eval server server-stop sample-server deploy worker work-pool \
	browser-deps clean

# pip's output is folded into one line that counts the packages (the full log: .venv/pip.log).
$(BIN)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || { echo "Creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "Installing newsmon and its dependencies into $(VENV) (about a minute on a cold cache)"
	@set -o pipefail; $(BIN)/python -m pip install --progress-bar off -c constraints.txt \
	  -e '.[dev]' 2>&1 | tee $(VENV)/pip.log | awk \
	  '/^(Collecting|Requirement already satisfied)/{n++; printf "\r  %d packages collected", n; fflush()} \
	   /^Installing collected/{printf "\r  %d packages collected; installing...", n; fflush()} \
	   /^Successfully installed/{printf "\r  %d packages collected; installed      \n", n}' \
	  || { echo; tail -n 20 $(VENV)/pip.log; echo "pip failed; full log: $(VENV)/pip.log"; exit 1; }
	@touch $@

## run: start (or reuse) the local Prefect server and the bundled sample feeds, then run one pass.
run: $(BIN)/.installed server sample-server
	$(BIN)/newsmon run --monitor $(MONITOR)

## server: start a local Prefect server with its UI (reused when already answering).
server: $(BIN)/.installed
	@mkdir -p $(PREFECT_HOME)
	@if curl -sf $(PREFECT_API_URL)/health >/dev/null; then echo "Prefect server already up at $(PREFECT_API_URL)"; else \
	  echo "Starting Prefect server on port $(PREFECT_PORT) (log: $(PREFECT_HOME)/server.log)"; \
	  setsid nohup $(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT) >$(PREFECT_HOME)/server.log 2>&1 </dev/null & \
	  for i in $$(seq 1 180); do curl -sf $(PREFECT_API_URL)/health >/dev/null && break; sleep 1; done; \
	  curl -sf $(PREFECT_API_URL)/health >/dev/null || { echo "Prefect server did not start; see $(PREFECT_HOME)/server.log"; exit 1; }; fi

server-stop:
	-pkill -f "prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)"

## sample-server: serve the bundled sample feeds and article pages on 127.0.0.1:$(SAMPLE_PORT).
sample-server: $(BIN)/.installed
	@mkdir -p $(DATA_DIR)
	@if curl -sf http://127.0.0.1:$(SAMPLE_PORT)/index.txt >/dev/null; then echo "Sample feeds already served on port $(SAMPLE_PORT)"; else \
	  setsid nohup $(BIN)/newsmon sample-server --port $(SAMPLE_PORT) >$(DATA_DIR)/sample-server.log 2>&1 </dev/null & \
	  for i in $$(seq 1 30); do curl -sf http://127.0.0.1:$(SAMPLE_PORT)/index.txt >/dev/null && break; sleep 0.5; done; \
	  curl -sf http://127.0.0.1:$(SAMPLE_PORT)/index.txt >/dev/null || { echo "sample server did not start; see $(DATA_DIR)/sample-server.log"; exit 1; }; fi

## test: ruff, mypy and pytest (PostgreSQL tests skip locally when no server answers; CI=true makes them mandatory).
test: browser-deps lint typecheck pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy flows monitors pipeline devtools storage tests scripts

pytest: $(BIN)/.installed
	$(BIN)/pytest -q

## bench: benchmarks (not tests; `make bench ARGS=--quick` for a smoke run); results are written
## by hand into docs/benchmarks.md with the machine and the command.
bench: $(BIN)/.installed
	$(BIN)/python -m scripts.bench_all $(ARGS)

## eval: the end-to-end replay evaluation of both dev stories (docs/evaluation.md): the rss2023
## corpus replayed as live feeds through the real flow every 12 simulated hours, alerts scored
## against the labels; prints a table and writes JSON to data/eval/. `make eval ARGS="--story wagner"`.
eval: $(BIN)/.installed
	$(BIN)/python -m scripts.replay $(ARGS)

POOL ?= newsmon-pool

## work-pool: create the process work pool of prefect.yaml when the server does not know it yet.
work-pool: $(BIN)/.installed server
	@$(BIN)/prefect work-pool inspect $(POOL) >/dev/null 2>&1 || \
	  $(BIN)/prefect work-pool create $(POOL) --type process

## deploy: one deployment per monitor file (prefect.yaml); idempotent.
deploy: $(BIN)/.installed server work-pool
	$(BIN)/prefect --no-prompt deploy --all

## worker: a process worker of the pool; start one per machine (PREFECT_API_URL = the shared server).
worker: $(BIN)/.installed server work-pool
	$(BIN)/prefect worker start --pool $(POOL)

## browser-deps: Debian chromium for the browser test of the Prefect UI (tests/flows/test_ui_browser.py).
browser-deps:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian chromium for the browser test (apt-get)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "browser-deps: could not install chromium; the browser test will skip locally (and fail under CI=1)"; \
	else echo "browser-deps: /usr/bin/chromium missing and apt-get unusable (not root?); install the Debian package chromium"; fi

clean:
	rm -rf $(VENV) build *.egg-info
