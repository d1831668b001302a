# Authgate developer commands. Each target sets up what it needs on a fresh machine with only
# Python 3.11+ and make: a .venv, uv (installed into it when missing), and the pinned packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo $(BIN)/uv)
STAMP := $(VENV)/.synced
PYTEST_ARGS ?=

.PHONY: help setup system-deps npm-tools run test lint docs docs-serve docs-screenshots bench loadtest chaos constraints mutate clean \
	oauth-list-registrations oauth-stats oauth-purge-expired oauth-purge-scan oauth-backup

help:
	@echo "make run        start Redis, issuer, verifier, dev login and a demo MCP server locally"
	@echo "make test       the full test suite (starts its own redis-server)"
	@echo "make lint       ruff + mypy --strict"
	@echo "make docs       build the documentation site (strict) into site/; docs-serve previews it"
	@echo "make mutate     mutation testing of the security-critical modules (MODULE=<name> for one)"
	@echo "make bench      performance benchmarks (wrk), printed as ratios"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python constraints.txt pyproject.toml shared/pyproject.toml services/issuer/pyproject.toml services/verifier/pyproject.toml
	@echo "installing the pinned packages into $(VENV) (first run, or after the pins changed)..."
	@command -v uv >/dev/null 2>&1 || [ -x $(BIN)/uv ] || $(BIN)/python -m pip install --quiet uv
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes -r constraints.txt
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation \
		-e shared -e services/issuer -e services/verifier
	@touch $(STAMP)

setup: $(STAMP)

# The system programs the tests drive (Redis, nginx, Caddy, wrk, Chromium), when missing.
system-deps:
	@scripts/system-deps

# The npm programs the tests drive (Node 22, the MCP conformance suite, MCP Inspector), at the
# exact versions of tools/npm/package.json, into .tools/npm; a no-op once installed.
npm-tools:
	@scripts/npm-tools

# Regenerate the pinned constraints (name==version with hashes, no index URLs).
constraints: $(BIN)/python
	@command -v uv >/dev/null 2>&1 || [ -x $(BIN)/uv ] || $(BIN)/python -m pip install --quiet uv
	$(UV) pip compile pyproject.toml shared/pyproject.toml services/issuer/pyproject.toml \
		services/verifier/pyproject.toml --group pyproject.toml:dev --generate-hashes --no-header \
		--no-annotate -p 3.11 -o constraints.txt --no-emit-package authgate-shared \
		--no-emit-package authgate-issuer --no-emit-package authgate-verifier

run: $(STAMP)
	$(BIN)/python -m devstack

test: $(STAMP) system-deps npm-tools
	$(BIN)/pytest $(PYTEST_ARGS)

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# The consent page's picture in the docs is the browser test's own screenshot.
docs-screenshots: $(STAMP) system-deps
	$(BIN)/pytest -q -p no:randomly tests/test_browser_consent.py -k test_deny_sends_access_denied
	cp artifacts/consent-page.png docs/assets/consent-page.png
	$(BIN)/pytest -q -p no:randomly tests/test_account_page.py -k test_remembered_consents
	cp artifacts/account-page.png docs/assets/account-page.png

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy shared/src services/issuer/src services/verifier/src testsupport devstack bench loadtests chaos

# Mutation testing of the security-critical modules (tools/mutate; MODULE=<name> for one). It
# rewrites the sources in place while it runs: run it in a clone of your own, never in a work tree
# where anyone else runs tests. Not part of `make test` (see docs/testing.md).
MODULE ?=
mutate: $(STAMP)
	$(BIN)/python -m tools.mutate $(MODULE)

bench: $(STAMP)
	$(BIN)/python -m bench

loadtest: $(STAMP)
	$(BIN)/python -m loadtests.run

chaos: $(STAMP)
	$(BIN)/python -m chaos

oauth-list-registrations: $(STAMP)
	$(BIN)/authgate clients list

oauth-stats: $(STAMP)
	$(BIN)/authgate tokens stats

oauth-purge-expired: $(STAMP)
	$(BIN)/authgate purge-expired

oauth-purge-scan: $(STAMP)
	$(BIN)/authgate purge-expired --scan

oauth-backup: $(STAMP)
	$(BIN)/authgate backup backups/authgate-$$(date -u +%Y%m%dT%H%M%SZ).jsonl

clean:
	rm -rf $(VENV) .run artifacts site .mypy_cache .ruff_cache
