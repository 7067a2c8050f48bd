# Paperboy: `make run` for the embedded demo, `make test` for the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000
# The demo's links (emails, the printed admin URL) follow the address it runs on.
DEMO_ENV := DEBUG=1 SITE_URL=http://$(HOST)

# The test suite runs on real PostgreSQL and Redis; these are the local defaults.
TEST_DATABASE_URL := $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/paperboy)
TEST_BROKER_URL := $(or $(CELERY_BROKER_URL),redis://127.0.0.1:6379/1)
TEST_CACHE_URL := $(or $(CACHE_URL),rediscache://127.0.0.1:6379/2)
TEST_ENV := DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	CACHE_URL=$(TEST_CACHE_URL) SECRET_KEY=test-only-secret-key EMAIL_URL=memorymail://

.PHONY: install run test test-faults mutate bench relevance personalisation lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

## Embedded demo: SQLite in var/, tasks run in-process, emails as .eml files in var/mail/.
run: install
	mkdir -p var/mail
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py setup_demo --env-file .env
	@echo "Paperboy is starting on http://$(HOST)/ (emails land in var/mail/)"
	$(DEMO_ENV) $(BIN)/python manage.py runserver $(HOST)

## The whole test suite on PostgreSQL + Redis (fails fast, saying how to start them).
test: install
	$(TEST_ENV) $(BIN)/pytest -m "not faults" $(PYTEST_ARGS)

## Slow fault-injection tests: killed workers, restarted services, SMTP storms.
test-faults: install
	$(TEST_ENV) $(BIN)/pytest -m faults $(PYTEST_ARGS)

## Break the product one line at a time, each in a scratch copy: does `make test` notice?
mutate: install
	$(TEST_ENV) $(BIN)/python -m bench.mutate $(MUTATE_ARGS)

bench: install
	$(TEST_ENV) $(BIN)/python -m bench.run $(BENCH_ARGS)

## How well the starting topics find what a curator would pick (bench/data/relevance.jsonl).
relevance: install
	$(BIN)/python -m bench.relevance $(RELEVANCE_ARGS)

## Do readers' models learn? precision@10 after 0/5/10/20 ratings (bench/personalisation.py).
personalisation: install
	$(BIN)/python -m bench.personalisation $(PERSONALISATION_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var/paperboy.sqlite3 var/mail var/static
