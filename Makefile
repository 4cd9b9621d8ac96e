# The two commands of the README's quickstart. Each does all of its own set-up.
.PHONY: demo demo-cluster test setup lint typecheck docs unit bench clean screenshots

PY := .venv/bin/python
# `make demo PORT=8080 HOST=0.0.0.0` serves on another address.
PORT ?= 8000
HOST ?= 127.0.0.1

# The Datastar bundle lands in the package (src/parlour/web/static/datastar.js), which serves
# it itself: nothing to export. The examples' JavaScript (uPlot, from npm) lands in vendor/js.
setup:
	@sh scripts/bootstrap
	@sh scripts/fetch-datastar
	@sh scripts/fetch-js

demo: setup
	$(PY) -m parlour console --demo --host $(HOST) --port $(PORT)

# A cluster on this machine: nats-server, three console nodes (the demo swarm on one) and
# HAProxy (round robin, no stickiness) on 127.0.0.1; prints the URL to open, Ctrl-C stops
# them all. `scripts/demo-cluster --app examples.counter:app` runs the counter instead. See
# docs/deployment.md.
demo-cluster: setup
	@sh scripts/ensure-haproxy
	$(PY) scripts/demo-cluster --port $(PORT)

lint: setup
	$(PY) -m ruff check src tests examples benchmarks
	$(PY) -m ruff format --check src tests examples benchmarks

typecheck: setup
	$(PY) -m pyright

# The documentation site (mkdocs.yml) into build/site, offline, in a few seconds. --strict:
# a broken link, a missing page or a reference that does not resolve fails the build.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

test: setup lint typecheck docs
	@sh scripts/ensure-chromium
	@sh scripts/ensure-haproxy
	$(PY) -m pytest -q

# The documentation's screenshots (docs/images), taken by the browser tests that show them.
screenshots: setup
	@sh scripts/ensure-chromium
	PARLOUR_SCREENSHOTS=1 $(PY) -m pytest -q -p no:randomly tests/e2e/test_console_kinds.py tests/e2e/test_inspector.py

# The "Live data" benchmarks (about 16 min on 2 cores): fan-out and idle memory against the raw
# ASGI floor, peer-bench beside raw and Stario, profiles, a cluster behind HAProxy. BENCH_ARGS,
# e.g. --quick or --parts fanout, is passed on. See docs/benchmarks.md.
bench: setup
	@sh scripts/ensure-haproxy
	$(PY) benchmarks/live_bench.py $(BENCH_ARGS)

clean:
	rm -rf .venv vendor src/parlour/web/static/datastar.js .pytest_cache .ruff_cache .hypothesis
