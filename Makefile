# Synapse — every target creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# The suite mostly waits (on sockets, processes, timers): it runs on more workers than there are cores.
TEST_WORKERS ?= 8

.PHONY: help install demo test test-fast lint run check bench bench-quick clean

help:
	@echo "make demo   - run the bot against a local Slack sandbox and print the conversation"
	@echo "make test   - the whole test suite, what CI runs (real Redis, real MLflow store, local stand-ins), on"
	@echo "              TEST_WORKERS=$(TEST_WORKERS) xdist workers"
	@echo "make test-fast - the inner loop: pure logic and in-process tests, no bot started (pytest -m 'not e2e')"
	@echo "make lint   - ruff and mypy"
	@echo "make run    - run the bot against Slack (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN)"
	@echo "make check  - check configuration and reach Slack, Redis, MLflow, the model and GitHub"
	@echo "make bench  - benchmarks (figures in docs/performance.md); make bench-quick for a short run"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/synapse-bot demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e"

lint: $(STAMP)
	$(BIN)/ruff check synapse_bot synapse_sandbox tests bench
	$(BIN)/ruff format --check synapse_bot synapse_sandbox tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

run: $(STAMP)
	$(BIN)/synapse-bot run

check: $(STAMP)
	$(BIN)/synapse-bot check

BENCHES := keyword_matching diff_packing summary_cost answering ack_latency sign_latency tracing_throughput scale_out overhead memory github_polling follow_ups schedules

bench: $(STAMP)
	@for b in $(BENCHES); do echo "== $$b"; $(BIN)/python -m bench.$$b || exit 1; done

bench-quick: $(STAMP)
	@for b in $(BENCHES); do echo "== $$b"; $(BIN)/python -m bench.$$b --quick || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
