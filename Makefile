# Tierdesk — two commands:
#   make run   set up .venv, migrate, seed demo data, serve http://127.0.0.1:8000 with a Celery worker and beat
#   make test  set up .venv and run the whole test suite
#   make backup / make restore DUMP=… [MEDIA=…]  the PostgreSQL database at DATABASE_URL and MEDIA_ROOT
#              (docs/operations.md; tested by tests/helpdesk/test_backup.py)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
BACKUP_DIR ?= $(or $(TIERDESK_VAR_DIR),var)/backups
MEDIA_ROOT ?= $(or $(TIERDESK_VAR_DIR),var)/media
STAMP := $(shell date -u +%Y%m%dT%H%M%SZ)

.PHONY: run test clean backup restore

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# The embedded default: SQLite and a file-system broker under var/, no servers needed.
# Ctrl-C stops the web server, the worker and beat together.
run: $(VENV)/.run-deps
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/python manage.py seed_demo_articles
	DEBUG=1 TIERDESK_ADDR=$(HOST):$(PORT) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start

# pytest exits non-zero when it collects no tests (exit code 5), so an empty run fails too.
test: $(VENV)/.test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A consistent snapshot of the database (pg_dump's custom format, taken while the site runs) and the uploads.
backup:
	@test -n "$$DATABASE_URL" || { echo "DATABASE_URL is not set" >&2; exit 2; }
	mkdir -p "$(BACKUP_DIR)"
	pg_dump --format=custom --no-owner --file="$(BACKUP_DIR)/tierdesk-$(STAMP).dump" "$$DATABASE_URL"
	if [ -d "$(MEDIA_ROOT)" ]; then tar -C "$(MEDIA_ROOT)" -czf "$(BACKUP_DIR)/media-$(STAMP).tar.gz" .; fi

# Into a new, empty database at DATABASE_URL (createdb first); all or nothing. Then `manage.py migrate`.
restore:
	@test -n "$$DATABASE_URL" || { echo "DATABASE_URL is not set" >&2; exit 2; }
	@test -f "$(DUMP)" || { echo "DUMP=<file written by make backup> is required" >&2; exit 2; }
	pg_restore --no-owner --exit-on-error --single-transaction --dbname="$$DATABASE_URL" "$(DUMP)"
	if [ -n "$(MEDIA)" ]; then mkdir -p "$(MEDIA_ROOT)" && tar -C "$(MEDIA_ROOT)" -xzf "$(MEDIA)"; fi

clean:
	rm -rf $(VENV) var
