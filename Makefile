# Two commands matter: `make run` (the simulator, both stacks and HAProxy in front) and
# `make test`. Both create .venv and install everything on first use, HAProxy and tinyproxy
# included (the Debian packages, through apt-get; with sudo when not root).

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install haproxy chromium tinyproxy agents run test lint typecheck unit contract agent-tier rollout bench bench-quick clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[flask,fastapi,sim,dev,bench]'
	touch $(STAMP)

install: $(STAMP)

# apt_install(package, what goes without it): install a Debian package, retrying once after
# `apt-get update`; without apt-get, or if it fails, say what is skipped instead of failing.
apt_install = \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make: $(1) is not installed and apt-get is not available here; $(2)"; \
	else \
	  SUDO=; if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	  echo "make: installing the Debian $(1) package: $$SUDO apt-get install -y $(1)"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(1) \
	  || { $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(1); } \
	  || echo "make: could not install $(1); $(2)"; \
	fi

# HAProxy splits traffic between the stacks (`proxyctl up`, tests/rollout); HAPROXY_BIN
# points at another binary.
haproxy:
	@if command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || test -x /usr/local/sbin/haproxy; then \
	  :; \
	else \
	  $(call apt_install,haproxy,'proxyctl up' refuses to start and tests/rollout is skipped (or set HAPROXY_BIN)); \
	fi

# Headless Chromium loads the FastAPI stack's /docs with the network blocked
# (tests/contract/test_docs_offline.py); CHROMIUM_BIN points at another binary.
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || test -n "$$CHROMIUM_BIN"; then \
	  :; \
	else \
	  $(call apt_install,chromium,the offline /docs browser test is skipped (or set CHROMIUM_BIN)); \
	fi

# The real coding agents for tests/agents: Claude Code and Codex at the versions pinned in
# tests/agents/package-lock.json, installed with `npm ci` into .cache/agents (git-ignored) and
# re-installed only when the pins change. Node.js/npm come from apt-get when missing; unlike
# HAProxy and Chromium this never degrades to a skip: without npm, make stops here.
AGENTS_DIR := .cache/agents
AGENTS_STAMP := $(AGENTS_DIR)/.installed-stamp

$(AGENTS_STAMP): tests/agents/package.json tests/agents/package-lock.json
	@if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then \
	  command -v apt-get >/dev/null 2>&1 || { echo "make: Node.js/npm are missing and apt-get is not available: install them"; exit 1; }; \
	  SUDO=; if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	  PKGS=; command -v node >/dev/null 2>&1 || PKGS=" nodejs"; command -v npm >/dev/null 2>&1 || PKGS="$$PKGS npm"; \
	  echo "make: installing the Debian packages:$$PKGS (for the agent tier)"; \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$PKGS; \
	fi
	mkdir -p $(AGENTS_DIR)
	cp tests/agents/package.json tests/agents/package-lock.json $(AGENTS_DIR)/
	cd $(AGENTS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	$(AGENTS_DIR)/node_modules/.bin/claude --version
	$(AGENTS_DIR)/node_modules/.bin/codex --version
	touch $@

agents: $(AGENTS_STAMP)

# tinyproxy is the corporate forward proxy the network tests put in front of the simulator
# (tests/contract/test_network.py, tests/transports); TINYPROXY_BIN points at another binary.
# Debian starts its system service on install (where the init system allows): the tests run
# their own instance on a free port, so that service is stopped and disabled again.
tinyproxy:
	@if command -v tinyproxy >/dev/null 2>&1 || test -x /usr/bin/tinyproxy || test -n "$$TINYPROXY_BIN"; then \
	  :; \
	else \
	  $(call apt_install,tinyproxy,the forward-proxy tests are skipped (or set TINYPROXY_BIN)); \
	  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet tinyproxy 2>/dev/null; then \
	    SUDO=; if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; $$SUDO systemctl disable --now tinyproxy || true; \
	  fi; \
	fi

# `make run` starts FastAPI at 10 % (`make run FASTAPI_WEIGHT=50`); a bare `proxyctl up`
# restores the share last set instead (.run/rollout.json).
FASTAPI_WEIGHT ?= 10
run: install haproxy
	$(BIN)/proxyctl up --fastapi-weight $(FASTAPI_WEIGHT)

test: install haproxy chromium tinyproxy agents lint typecheck
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/python -m pytest -q tests/unit

contract: install chromium tinyproxy
	$(BIN)/python -m pytest -q tests/contract

# Claude Code and Codex against both stacks on the simulator (docs/testing.md).
agent-tier: install agents
	$(BIN)/python -m pytest -q tests/agents

rollout: install haproxy
	$(BIN)/python -m pytest -q tests/rollout

# Locust load comparison (docs/load-testing.md): the simulator, both stacks, the baselines and
# HAProxy, one profile after another; reports with charts and CSVs in docs/benchmarks/.
# `make bench BENCH_PROFILES=realistic` runs one; `make bench-quick` checks the pipeline in ~2 min.
BENCH_PROFILES ?= all
bench: install haproxy
	$(BIN)/proxyctl bench --profile $(BENCH_PROFILES)

bench-quick: install haproxy
	$(BIN)/proxyctl bench --profile $(BENCH_PROFILES) --quick

clean:
	rm -rf $(VENV) .run .cache .pytest_cache .mypy_cache .ruff_cache *.egg-info
