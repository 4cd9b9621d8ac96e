# The two commands of the README's quickstart. Each does all of its own set-up.
.PHONY: demo test setup lint typecheck unit bench clean

PY := .venv/bin/python
export PARLOUR_DATASTAR_JS := $(CURDIR)/vendor/datastar-1.0.4.js

setup:
	@sh scripts/bootstrap
	@sh scripts/fetch-datastar

demo: setup
	$(PY) -m parlour console --demo --host 127.0.0.1 --port 8000

lint: setup
	$(PY) -m ruff check src tests examples benchmarks
	$(PY) -m ruff format --check src tests examples benchmarks

typecheck: setup
	$(PY) -m pyright

test: setup lint typecheck
	@sh scripts/ensure-chromium
	$(PY) -m pytest -q

# The "Live data" benchmarks (about 12 min on 2 cores): fan-out and idle memory against the raw
# ASGI floor, peer-bench beside raw and Stario, profiles. BENCH_ARGS, e.g. --quick or
# --parts fanout, is passed on. See docs/benchmarks.md.
bench: setup
	$(PY) benchmarks/live_bench.py $(BENCH_ARGS)

clean:
	rm -rf .venv vendor .pytest_cache .ruff_cache .hypothesis
