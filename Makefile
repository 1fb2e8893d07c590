# The two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?= --durations=15

.PHONY: demo test test-fast lint install fetch browser clean bench

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: python3.11 not found; install Python 3.11" >&2; exit 1; }
	@echo "==> virtualenv $(VENV) and packages (first run only)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

# Downloads the Kafka broker jars and the Apicurio registry from Maven Central and builds
# Prometheus from the Go module proxy (first run only; later runs reuse .stack/downloads
# and the Go caches), so no test waits on a download or a build.
fetch: install
	@$(BIN)/cultuurbus stack fetch --with-prometheus

demo: install
	@$(BIN)/cultuurbus demo

lint: install
	@echo "==> ruff"
	@$(BIN)/ruff check schemas bus connectors streams sinks ops bench tests
	@echo "==> mypy"
	@$(BIN)/mypy

# Debian's Chromium and ChromeDriver for the board's browser test (the test skips
# without them; CI runs as root and installs them).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "==> installing chromium and chromium-driver (Debian packages, first run only)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "warning: could not install chromium; the browser test will be skipped" >&2; \
	  else echo "note: no chromium; the browser test will be skipped (apt-get install chromium chromium-driver)" >&2; fi; \
	fi

# Everything: lint, unit, integration (real Kafka, registry, ClickHouse), e2e, slow.
# pytest exits 5 when it collects no test, which fails this target on purpose.
# The whole run is also kept in .stack/test.log; its verdict is printed again last, so
# it is the tail of the output even if a client library writes after pytest's summary.
test: install lint fetch browser
	@echo "==> pytest"
	@mkdir -p .stack
	@set -o pipefail; $(BIN)/python -m pytest -rfE $(PYTEST_ARGS) 2>&1 | tee .stack/test.log; \
	  status=$$?; echo "==> verdict (full log: .stack/test.log)"; \
	  grep -E '^(FAILED|ERROR) ' .stack/test.log | head -40; \
	  grep -E '^=+ .*(passed|failed|error|no tests ran).* =+$$' .stack/test.log | tail -1; \
	  exit $$status

# Local loop: skips the slow fault tests (CI runs them).
test-fast: install
	@$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

bench: install fetch
	@$(BIN)/python -m pip install -q -e '.[bench]'
	@$(BIN)/python -m bench

clean:
	@$(BIN)/cultuurbus stack down 2>/dev/null || true
	rm -rf $(VENV) .stack .pytest_cache .mypy_cache .ruff_cache
