# warroom — every target sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export WARROOM_TEST_POSTGRES_URL ?= $(PG_URL)

.PHONY: setup run test lint format bench bench-ingest bench-pages screenshots lock clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

run: setup
	$(BIN)/warroom serve

test: setup
	$(BIN)/pytest -n 2 --dist loadgroup

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy --strict src
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: setup
	$(BIN)/python bench/bench_core.py

# Alert ingestion vs Prometheus Alertmanager (installs prometheus-alertmanager with apt-get
# if missing); prints alerts/s, latency and peak RSS of both. docs/performance.md has figures.
bench-ingest: setup
	$(BIN)/python bench/bench_ingest.py

# The web app's dashboard and incident room with 10,000 incidents (docs/web-performance.md).
bench-pages: setup
	$(BIN)/python bench/bench_pages.py

# The README's screenshots: the browser tests save them (test-artifacts/screenshots otherwise).
screenshots: setup
	WARROOM_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/test_browser.py -k "screenshots and sqlite"

# Re-pin every dependency (needs network); commit requirements.lock afterwards.
lock: setup
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
