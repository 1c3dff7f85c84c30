# The two commands of the README: `make run` starts the app, `make test` runs
# every test. Each sets up what it needs first, on a fresh machine too.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test lint format bench classroom

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.app: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.test: requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-test.txt
	touch $@

# Browser tests drive Debian's Chromium; never a downloaded browser.
/usr/bin/chromium:
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) \
		apt-get install -y -qq chromium

# The classroom's proxy is Debian's nginx, installed the same way.
/usr/sbin/nginx:
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) \
		apt-get install -y -qq nginx

run: $(VENV)/.app
	$(BIN)/streamlit run app/streamlit_app.py --server.port $(PORT)

# N replicas (REPLICAS=, default the number of cores) behind nginx on
# HOST:PORT (default 127.0.0.1:8501); Ctrl-C stops them all.
classroom: $(VENV)/.app /usr/sbin/nginx
	$(BIN)/python -m deploy.classroom

test: $(VENV)/.test /usr/bin/chromium /usr/sbin/nginx
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(VENV)/.test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.test
	$(BIN)/pip install -q -r requirements-bench.txt
	$(BIN)/python bench/engine.py
