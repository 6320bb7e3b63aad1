# Everything installs itself: `make test` and `make sandbox` create .venv from the lock on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck sandbox bench transcript-sample clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check bot tests
	$(BIN)/ruff format --check bot tests

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -q

sandbox: $(STAMP)
	$(BIN)/rimpllee sandbox

# Not a test: latency, REST calls per ticket and throughput of the API (about a minute).
bench: $(STAMP)
	$(BIN)/python -m tests.benchmark
	$(BIN)/python -m tests.bench_desk

transcript-sample: $(STAMP)
	$(BIN)/python -m tests.sample_transcript

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
