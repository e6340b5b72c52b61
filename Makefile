# Data Sandbox. `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU build of torch lies in /opt/wheels on this machine kind; elsewhere pip uses PyPI.
PIP_FLAGS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)

.PHONY: install demo serve test lint bench dist clean

# Both distributions, editable: the light client (packaging/client) and the service.
$(VENV)/.installed: pyproject.toml packaging/client/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet $(PIP_FLAGS) -e ./packaging/client -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/sandbox demo

serve: install
	$(VENV)/bin/sandbox serve

test: install
	$(PY) -m pytest

# Layering and no import cycles ([tool.importlinter]), style, formatting, types (strict).
lint: install
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: install
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Two wheels into dist/: data-sandbox-client (the light client) and data-sandbox (the
# service, which requires the client wheel at the same version). Built with the venv's
# setuptools, no download: `pip install --find-links dist data-sandbox` installs both.
dist: install
	rm -rf dist build packaging/client/build *.egg-info
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist ./packaging/client .
	@ls dist

clean:
	rm -rf dist build packaging/client/build *.egg-info
	rm -rf $(VENV) .sandbox .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
