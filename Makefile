# Skewless. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
# Absolute: feature_repo/feature_store.yaml names the online store ${SKEWLESS_DATA_DIR}/online.db,
# and Feast (so Skewless too) reads a relative online path from the repository, not from here.
export SKEWLESS_DATA_DIR ?= $(CURDIR)/data

.PHONY: help bootstrap services demo test test-fast lint format bench bench-tools bench-quick up clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

bootstrap: ## Install uv if missing (pip), the locked environment (uv sync --frozen), chromium
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen
	@# The browser tests drive Debian's chromium through Playwright (which cannot download its
	@# own browser here). Installed once; apt's lists are refreshed only when the install fails.
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium (browser tests)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }; }
	@# uv installs no bytecode and this machine kind sets PYTHONDONTWRITEBYTECODE, so every
	@# process would recompile Feast, pandas & co. on import (~6 s per CLI call). Compile the
	@# installed packages once per lock file; Python still reads .pyc files under that setting.
	@test .venv/.bytecode -nt uv.lock || { echo "compiling installed packages to bytecode (once)"; \
	  $(RUN) python -m compileall -q -j 0 "$$($(RUN) python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null 2>&1; \
	  touch .venv/.bytecode; }

services: ## Start local Redis and PostgreSQL if they are not answering (this machine kind's commands)
	@bash .ci/services.sh

demo: bootstrap ## Run the whole flow on the embedded defaults (SQLite, parquet, no server)
	$(RUN) skewless demo --data-dir $(SKEWLESS_DATA_DIR)

test: bootstrap services bench-tools ## Run every test against the real Redis and PostgreSQL
	$(RUN) pytest -q -p no:cacheprovider

test-fast: bootstrap ## Unit tests only (no Redis/PostgreSQL, no e2e)
	$(RUN) pytest -q -m "not integration and not e2e"

lint: bootstrap ## ruff (lint + format check) and mypy --strict on services/ and lineage/
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy services lineage

format: bootstrap ## Apply ruff's formatting and safe fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench-tools: ## Install the HTTP load generator (wrk, a Debian package) if missing
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)

bench: bootstrap services bench-tools ## Benchmarks against Feast and the raw limit (BENCH_SCALE=1.0)
	$(RUN) python -m bench.run --scale $${BENCH_SCALE:-1.0}

bench-quick: bootstrap services bench-tools ## The same benchmarks at 5% scale
	$(RUN) python -m bench.run --scale 0.05 --quick

up: ## Start the stack with docker compose (needs a Docker engine)
	docker compose up -d

clean: ## Remove local state under the data dir
	rm -rf $(SKEWLESS_DATA_DIR)
