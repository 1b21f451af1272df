# The two commands the README promises: `make plan` and `make test`.
# Both create .venv and install what they need on first use (Python >= 3.11 only).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= local
PYTEST_ARGS ?=

.PHONY: plan test lint typecheck bench clean venv

plan: $(VENV)/.ready
	$(BIN)/llmops plan --stack $(STACK)

test: $(VENV)/.ready-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.ready-dev
	$(BIN)/ruff check components infra policies tests examples
	$(BIN)/ruff format --check components infra policies tests examples

typecheck: $(VENV)/.ready-dev
	$(BIN)/python -m tests.support.typing_tree
	$(BIN)/basedpyright

bench: $(VENV)/.ready-dev
	$(BIN)/python -m tests.bench

venv: $(VENV)/.ready-dev

# Debian's python3 ships venv without ensurepip unless python3-venv is installed;
# install it when we can (root + apt-get), otherwise say exactly what is missing.
$(VENV)/.created:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "llmops needs Python >= 3.11; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)" >&2; exit 1; }
	@if ! $(PYTHON) -m venv $(VENV) >/dev/null 2>&1; then \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    v=$$($(PYTHON) -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")'); \
	    echo "installing python$$v-venv (Debian ships venv without pip)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$$v-venv" >/dev/null || exit 1; \
	    $(PYTHON) -m venv $(VENV) || exit 1; \
	  else \
	    echo "cannot create $(VENV): install your distribution's venv package (Debian: apt-get install python3-venv)" >&2; exit 1; \
	  fi; \
	fi
	$(BIN)/python -m pip install -q --upgrade pip
	touch $@

$(VENV)/.ready: $(VENV)/.created pyproject.toml
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.ready-dev: $(VENV)/.ready pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf build .pytest_cache .ruff_cache
