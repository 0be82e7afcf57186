# One entry point for humans and CI. `make test` is what .ci/run calls.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install lock stack-up stack-down stack-status lint schemas docs translations test test-fast check demo down clean

# Every dependency, transitive ones included, at the version and hash in the lock file.
$(STAMP): pyproject.toml client/pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -e ./client -e .
	touch $(STAMP)

install: $(STAMP)

# After changing a pin in pyproject.toml: the runtime lock (the image) and the dev lock (make install).
lock: install
	$(PY) -m pip install --quiet uv==0.9.5
	$(VENV)/bin/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 --universal --quiet -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 --universal --quiet -o requirements-dev.lock

stack-up: install
	$(PY) -m stack up

stack-down:
	@if [ -x $(PY) ]; then $(PY) -m stack down; fi

stack-status: install
	$(PY) -m stack status

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

schemas: install
	$(PY) -m contracts.schemas_tool write
	$(PY) -m contracts.samples write
	$(PY) -m services.asyncapi write
	$(PY) -m services.contract_doc write

# The emails' message ids into services/notifications/locale/messages.pot, then the check that
# every language's catalog (locale/<ll>/LC_MESSAGES/messages.po) translates each.
translations: install
	$(PY) -m services.notifications.catalogs pot
	$(PY) -m services.notifications.catalogs check

# AsyncAPI documents validated, rendered to HTML and turned into Python models: build/docs/
docs: install
	$(PY) -m services.asyncapi write
	@scripts/docs.sh

# The pure rules and every handler over the in-memory unit of work: no server needed.
test-fast: install
	$(PY) -m pytest tests/unit tests/handlers $(PYTEST_ARGS)

# Against whatever servers the environment names (or the running local stack).
check: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The full run: install, provision + start the stack, lint, every test, stop the stack.
test: install
	@scripts/test.sh $(PYTEST_ARGS)

demo: install
	$(PY) -m demo $(DEMO_ARGS)

# Stops the demo's services and the stack (and docker compose, where it was used).
down:
	@if [ -x $(PY) ]; then $(PY) -m demo down; fi

clean: down
	rm -rf .stack
