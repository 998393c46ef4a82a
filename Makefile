# Cadence: the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install lint format check-migrations clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

## Run Cadence on http://127.0.0.1:5000 with SQLite and a demo organisation.
run: install
	CADENCE_ENV=development $(BIN)/cadence db upgrade
	CADENCE_ENV=development $(BIN)/cadence seed-demo
	CADENCE_ENV=development $(BIN)/cadence run --host 127.0.0.1 --port 5000

## Lint, then the whole suite on SQLite and on PostgreSQL (with Redis, SMTP and Chromium).
test: install lint
	$(BIN)/pytest --db=sqlite
	$(BIN)/pytest --db=postgres

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
