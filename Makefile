# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: run test test-sqlite test-postgres venv translations bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg setup.py pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

run: venv
	$(BIN)/idp init
	$(BIN)/idp demo seed --eservice-url http://localhost:5001
	@echo
	@echo "  IdP:          http://localhost:5000"
	@echo "  Demo service: http://localhost:5001   (sign in as somchai@example.com / demo-citizen-2026)"
	@echo "  Second factor for the demo account: TOTP key KRUGC2JAIRUWO2LUMFWCASKEEBCGK3LP in any authenticator app"
	@echo
	ESERVICE_CLIENT_FILE=instance/demo-eservice.json $(BIN)/python -m examples.eservice.app --port 5001 & \
	  ESERVICE_PID=$$!; trap 'kill $$ESERVICE_PID 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/idp serve --host 127.0.0.1 --port 5000

test: venv
	$(BIN)/ruff check idp tests examples
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo
	env -u IDP_TEST_DATABASE_URL $(BIN)/python -m pytest
	@if [ -n "$$IDP_TEST_DATABASE_URL" ] || $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
	  echo "== the suite again on PostgreSQL ($${IDP_TEST_DATABASE_URL:-$(PG_URL)}) =="; \
	  IDP_TEST_DATABASE_URL=$${IDP_TEST_DATABASE_URL:-$(PG_URL)} $(BIN)/python -m pytest -m "not interop and not wheel" tests; \
	else \
	  echo "== PostgreSQL is not reachable at $(PG_URL): skipping the PostgreSQL run (set IDP_TEST_DATABASE_URL to choose a server) =="; \
	fi

translations: venv
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o idp/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i idp/translations/messages.pot -d idp/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d idp/translations

bench: venv
	bench/run.sh

clean:
	rm -rf $(VENV) build *.egg-info
