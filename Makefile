# The two commands of the README: `make run` and `make test`. Everything else is set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test unit lint bench clean system-deps

# Demo keys are made on the first run only, with a loud warning (intake demo-keys); `intake
# serve` is the production server, as the systemd unit runs it (docs/operator.md).
run: $(VENV)/.installed
	$(BIN)/intake translations compile
	$(BIN)/intake demo-keys
	$(BIN)/intake serve

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The browser tests need Debian's Chromium and Node, the deployment tests the system's Python
# with venv and systemd-analyze, the storage tests PostgreSQL (a throwaway cluster each run), the
# several-machines test HAProxy, and the test of what decrypt syncs strace. Installed here when
# missing (as root), otherwise make stops with what to install: tests never skip silently.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v node >/dev/null || missing="$$missing nodejs npm"; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v haproxy >/dev/null || missing="$$missing haproxy"; \
	command -v strace >/dev/null || missing="$$missing strace"; \
	/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q $$missing; \
	  else echo "make test needs:$$missing (sudo apt-get install$$missing)" >&2; exit 1; fi; \
	fi
	@# axe-core, the accessibility checker the browser tests inject, pinned, from the npm registry.
	@[ -f .cache/npm/node_modules/axe-core/axe.min.js ] || npm install --silent --no-save --prefix .cache/npm axe-core@4.14.1

# What every test run checks first, and what pre-commit runs (.pre-commit-config.yaml): complete
# catalogs (compiled for the tests), lint, formatting, types.
lint: $(VENV)/.installed
	$(BIN)/intake translations check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: system-deps $(VENV)/.installed lint
	$(BIN)/python -m pytest

# The fast tier: everything that needs no real service, browser, account or file system of its
# own, and is not exhaustive on purpose, in under a minute. `make test` runs it too, with the rest.
unit: $(VENV)/.installed
	$(BIN)/intake translations compile
	$(BIN)/python -m pytest -m "not system and not slow" -q

bench: $(VENV)/.installed
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q wrk; } || \
	  { echo "make bench needs wrk (sudo apt-get install wrk)" >&2; exit 1; }
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
