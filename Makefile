# ChegouHub realtime sync. `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PG_URL ?= postgres://postgres@127.0.0.1:5432/chegouhub
REDIS_TEST_URL ?= redis://127.0.0.1:6379/0
PORT   ?= 8000

export PYTHONDONTWRITEBYTECODE=1

.PHONY: run test test-sqlite test-postgres bench bench-quick bench-oversold bench-oversold-quick preflight browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e ".[test,bench]"
	rm -f $(VENV)/.installed-*; touch $(STAMP)

run: $(STAMP)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(BIN)/python manage.py demo --port $(PORT)

# Debian's chromium drives the browser tests; Playwright's own browser download cannot work here.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium"; fi; }

preflight: $(STAMP)
	$(BIN)/python -m tests.preflight

TEST_ENV = DJANGO_SECRET_KEY=test-only-secret-key DJANGO_DEBUG=false REDIS_TEST_URL=$(REDIS_TEST_URL)

test: $(STAMP) browser preflight
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: $(STAMP)
	@echo "== suite on SQLite =="
	$(TEST_ENV) DATABASE_URL= LOG_DIR=artifacts/logs-sqlite $(BIN)/pytest -q --durations=12 $(PYTEST_ARGS)

test-postgres: $(STAMP)
	@echo "== suite on PostgreSQL =="
	$(TEST_ENV) DATABASE_URL=$(PG_URL) LOG_DIR=artifacts/logs-postgres $(BIN)/pytest -q --durations=12 $(PYTEST_ARGS)

# The flash-sale benchmark (docs/benchmark.md): full run <= 10 min, quick run <= 60 s.
bench: $(STAMP)
	$(BIN)/python -m bench.flash_sale $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(BIN)/python -m bench.flash_sale --quick --out artifacts/bench-quick.json $(BENCH_ARGS)

# Units oversold on shared stock, push off and on side by side (docs/benchmark.md): <= 5 min, quick <= 90 s.
bench-oversold: $(STAMP)
	$(BIN)/python -m bench.oversold $(BENCH_ARGS)

bench-oversold-quick: $(STAMP)
	$(BIN)/python -m bench.oversold --quick --out artifacts/bench-oversold-quick.json $(BENCH_ARGS)

clean:
	rm -rf $(VENV) artifacts db.sqlite3 test_db.sqlite3* logs
