# `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

CHROMIUM ?= /usr/bin/chromium

.PHONY: install run serve test test-fast soak lint format clean test-tools bench bench-tools messages

# Installing compiles the translations (hatch_build.py): a changed .po reinstalls.
$(STAMP): pyproject.toml hatch_build.py $(wildcard app/translations/*/LC_MESSAGES/*.po)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Migrate, create the demo blog (once), print an editor token, serve on http://$(HOST):$(PORT)
run: install
	$(BIN)/liveupdates demo
	LOG_FORMAT=$${LOG_FORMAT:-text} $(BIN)/liveupdates serve --host $(HOST) --port $(PORT)

## The whole suite, on SQLite and on Postgres, after the linters
test: install lint test-tools
	$(BIN)/pytest

## The quick loop: SQLite only, no browser, no server processes (under a minute)
test-fast: install
	$(BIN)/pytest tests --ignore=tests/system --ignore=tests/browser -k "not postgres" -q

## The fault and fuzz tests at full size (1,000 posts through a SIGKILL, 2,000 readers, ...),
## and `docker compose up` of the shipped stack on a Docker engine (installed when missing)
soak: install test-tools
	SOAK=1 $(BIN)/pytest tests/system/test_faults.py tests/system/test_fuzz.py \
	  tests/system/test_compose.py -v

## Debian's Chromium for the browser tests (Playwright's own download is not used), Debian's
## nginx for the deployment tests and Debian's prometheus (promtool) for the alert rules
test-tools:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x /usr/sbin/nginx ] || ! command -v promtool >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium, nginx and prometheus for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx prometheus >/dev/null; \
	  else \
	    echo "The tests need Chromium at $(CHROMIUM), nginx and promtool: sudo apt-get install chromium nginx prometheus" >&2; exit 1; \
	  fi; \
	fi

## Extract the code's words into every catalog (app/translations), list what is untranslated
messages: install
	$(BIN)/liveupdates messages; $(MAKE) --no-print-directory install

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Every benchmark (bench/README.md); tables in bench/results-latest.md
bench: install bench-tools
	$(BIN)/python -m bench.all

bench-tools:
	@command -v wrk >/dev/null && command -v nginx >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk >/dev/null; \
	  else echo "bench needs nginx and wrk: sudo apt-get install nginx wrk" >&2; exit 1; fi; }
	cd bench/peers/node_ws && npm install --no-audit --no-fund --silent

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
