# Two commands matter: `make run` (the simulator, both stacks and HAProxy in front) and
# `make test`. Both create .venv and install everything on first use, HAProxy included
# (the Debian package, through apt-get; with sudo when not root).

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install haproxy chromium run test lint typecheck unit contract rollout clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[flask,fastapi,sim,dev]'
	touch $(STAMP)

install: $(STAMP)

# HAProxy splits traffic between the stacks (`proxyctl up`, tests/rollout). Installed
# from Debian when missing; without apt-get this only explains what to do.
haproxy:
	@if command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || test -x /usr/local/sbin/haproxy; then \
	  :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make: haproxy is not installed and apt-get is not available here. Install HAProxy >= 2.6" \
	       "yourself (or set HAPROXY_BIN); until then 'proxyctl up' refuses to start and tests/rollout is skipped."; \
	else \
	  SUDO=; if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	  echo "make: installing the Debian haproxy package: $$SUDO apt-get install -y haproxy"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy \
	  || { $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy; } \
	  || echo "make: could not install haproxy; 'proxyctl up' will refuse to start and tests/rollout is skipped."; \
	fi

# Headless Chromium loads the FastAPI stack's /docs with the network blocked
# (tests/contract/test_docs_offline.py). Installed from Debian when missing; without
# apt-get that test is skipped.
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || test -n "$$CHROMIUM_BIN"; then \
	  :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make: chromium is not installed and apt-get is not available here; the offline /docs" \
	       "browser test is skipped (set CHROMIUM_BIN to a Chromium/Chrome binary to run it)."; \
	else \
	  SUDO=; if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	  echo "make: installing the Debian chromium package: $$SUDO apt-get install -y chromium"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
	  || { $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
	  || echo "make: could not install chromium; the offline /docs browser test is skipped."; \
	fi

# `make run` starts FastAPI at 10 % (`make run FASTAPI_WEIGHT=50`); a bare `proxyctl up`
# restores the share last set instead (.run/rollout.json).
FASTAPI_WEIGHT ?= 10
run: install haproxy
	$(BIN)/proxyctl up --fastapi-weight $(FASTAPI_WEIGHT)

test: install haproxy chromium lint typecheck
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/python -m pytest -q tests/unit

contract: install chromium
	$(BIN)/python -m pytest -q tests/contract

rollout: install haproxy
	$(BIN)/python -m pytest -q tests/rollout

clean:
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache *.egg-info
