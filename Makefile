# The two commands of DESIGN.md: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench lint format install demo clean

install: $(VENV)/.installed .env

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# A local .env for the embedded defaults: debug on and a secret key made once for this checkout.
# Production sets its own environment and has no .env.
.env:
	printf 'DEBUG=1\nSECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@

run: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py demo_data
	@echo "Starting the worker (with beat) and the web server at http://$(HOST):$(PORT)/ ..."
	@trap 'kill 0' EXIT INT TERM; \
	$(BIN)/celery -A cxplatform worker -B --pool=solo --loglevel=INFO --schedule var/celerybeat-schedule & \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/pytest

bench: install
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var/
