# Two commands matter: `make run` (the simulator, both stacks and HAProxy in front) and
# `make test`. Both create .venv from the lock (locks/dev.txt) and install everything on
# first use, HAProxy and tinyproxy included (the Debian packages, through apt-get; with sudo
# when not root).

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install haproxy chromium tinyproxy agents systemd-analyze prometheus image-tools run test lint typecheck unit contract \
	agent-tier rollout prometheus-tier packaging bench bench-quick bench-revisions lock lock-upgrade lock-check dist image-test clean

# Locks (docs/deployment.md#locks): one file per environment, every pin with its hashes.
#   locks/dev.txt      every extra: what `make install`/`make test`/`make run` put in .venv
#   locks/flask.txt    the Flask stack          locks/fastapi.txt  the FastAPI stack
#   locks/sim.txt      the simulator            locks/bench.txt    `proxyctl bench` (both stacks, simulator, Locust)
# `make lock` resolves pyproject.toml keeping every version already pinned in locks/ (uv reads
# the existing output file as its preferences) and moves a pin only when pyproject.toml no longer
# allows it, so running it again gives the same files byte for byte even after the index gains
# releases. An upload date alone does not give that: the index has been seen to list a release
# dated before LOCK_DATE that it did not serve when the locks were made (openai 3.60.0, dated
# 2026-11-26, appeared after 2026-12-01). `make lock-upgrade` refreshes every pin to the newest
# release up to LOCK_DATE (move LOCK_DATE first). The stack locks are resolved under
# locks/dev.txt as constraints: any of them installs together with any other at the same
# versions. After adding a dependency to pyproject.toml, run `make lock`
# (tests/packaging/test_locks.py fails until then).
LOCK_DATE := 2026-12-01T00:00:00Z
LOCK_ENVS := flask fastapi sim bench
LOCK_EXTRAS_flask := --extra flask
LOCK_EXTRAS_fastapi := --extra fastapi
LOCK_EXTRAS_sim := --extra sim
LOCK_EXTRAS_bench := --extra bench --extra flask --extra fastapi --extra sim
LOCK_PYTHON := 3.11
UV_VERSION := 0.13.9
PIP_VERSION := 26.3
UV_DIR := $(CURDIR)/.uv
UV := $(UV_DIR)/bin/uv
UV_STAMP := $(UV_DIR)/.uv-$(UV_VERSION)
UV_COMPILE = $(UV) pip compile pyproject.toml --quiet --no-config --universal --python-version $(LOCK_PYTHON) \
	--generate-hashes --exclude-newer $(LOCK_DATE) --custom-compile-command 'make lock'
# compile_locks(dir, extra flags): every lock from dir/pyproject.toml into dir/locks (paths as annotated are relative to dir).
compile_locks = cd $(1) && mkdir -p locks && $(UV_COMPILE) $(2) --all-extras -o locks/dev.txt \
	$(foreach env,$(LOCK_ENVS),&& $(UV_COMPILE) $(2) $(LOCK_EXTRAS_$(env)) -c locks/dev.txt -o locks/$(env).txt)

$(STAMP): pyproject.toml locks/dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q pip==$(PIP_VERSION)
	$(BIN)/python -m pip install -q --require-hashes -r locks/dev.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
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

# systemd-analyze checks the units in deploy/systemd/ (tests/packaging/test_deploy.py).
systemd-analyze:
	@if command -v systemd-analyze >/dev/null 2>&1; then \
	  :; \
	else \
	  $(call apt_install,systemd,the systemd unit check is skipped); \
	fi

# buildah and debootstrap build and start the container image (make image-test).
image-tools:
	@if command -v buildah >/dev/null 2>&1 && { command -v debootstrap >/dev/null 2>&1 || test -x /usr/sbin/debootstrap; }; then \
	  :; \
	else \
	  $(call apt_install,buildah debootstrap,make image-test fails); \
	fi

# Prometheus (the Debian package: prometheus and promtool) for tests/prometheus.
prometheus:
	@if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then \
	  :; \
	else \
	  $(call apt_install,prometheus,tests/prometheus is skipped); \
	fi

# `make run` starts FastAPI at 10 % (`make run FASTAPI_WEIGHT=50`); a bare `proxyctl up`
# restores the share last set instead (.run/rollout.json).
FASTAPI_WEIGHT ?= 10
# `make run PROMETHEUS=1` also starts Prometheus on 9090 scraping both stacks with the shipped rules.
run: install haproxy $(if $(PROMETHEUS),prometheus)
	$(BIN)/proxyctl up --fastapi-weight $(FASTAPI_WEIGHT) $(if $(PROMETHEUS),--prometheus)

test: install haproxy chromium tinyproxy agents systemd-analyze prometheus lint typecheck
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

# A real Prometheus scraping both stacks; promtool over deploy/prometheus.
prometheus-tier: install haproxy prometheus
	$(BIN)/python -m pytest -q tests/prometheus

# The wheel in clean venvs (each lock alone; `proxyctl up`/parity/down from the installed wheel),
# the locks against pyproject.toml and `make lock` reproduced, the server settings, the units.
packaging: install haproxy systemd-analyze
	$(BIN)/python -m pytest -q tests/packaging

# The container image (Containerfile), NOT part of `make test` (.ci/run runs both): a Debian
# bookworm base from debootstrap (kept in buildah's storage for the next run), the image built
# on it with `buildah bud --isolation chroot`, each stack started inside it against the
# simulator on the host. Niced: the machine is shared.
image-test: install image-tools
	nice -n 10 $(BIN)/python -m pytest -q -m image tests/image

# The wheel (and nothing else) in dist/, built with the locked setuptools from .venv.
dist: install
	rm -rf build dist
	$(BIN)/python -m pip wheel -q --no-deps --no-build-isolation -w dist .
	rm -rf build
	@ls dist/*.whl

# Locust load comparison (docs/load-testing.md): the simulator, both stacks, the baselines and
# HAProxy, one profile after another; reports with charts and CSVs in docs/benchmarks/.
# `make bench BENCH_PROFILES=realistic` runs one; `make bench-quick` checks the pipeline in ~2 min.
BENCH_PROFILES ?= all
bench: install haproxy
	$(BIN)/proxyctl bench --profile $(BENCH_PROFILES)

bench-quick: install haproxy
	$(BIN)/proxyctl bench --profile $(BENCH_PROFILES) --quick

# Two revisions side by side, interleaved (docs/load-testing.md#two-revisions-side-by-side):
# `make bench-revisions BEFORE=<rev> [AFTER=<rev>]` (AFTER: the working tree); ~12 min.
bench-revisions: install
	@test -n "$(BEFORE)" || { echo "make bench-revisions: set BEFORE=<git revision>"; exit 2; }
	$(BIN)/python -m loadtests.bench.revisions $(BEFORE) $(AFTER)

# uv, pinned, in a venv of its own: only `make lock` needs it.
$(UV_STAMP):
	rm -rf $(UV_DIR)
	$(PY) -m venv $(UV_DIR)
	$(UV_DIR)/bin/python -m pip install -q uv==$(UV_VERSION)
	touch $(UV_STAMP)

lock: $(UV_STAMP)
	@echo "make lock: resolving pyproject.toml (keeping the pins in locks/, nothing newer than $(LOCK_DATE)) with uv $(UV_VERSION)"
	@$(call compile_locks,.)

lock-upgrade: $(UV_STAMP)
	@echo "make lock-upgrade: every pin to the newest release up to $(LOCK_DATE) with uv $(UV_VERSION)"
	@$(call compile_locks,.,--upgrade)

# Proves `make lock` reproduces locks/ byte for byte (tests/packaging runs it).
lock-check: $(UV_STAMP)
	rm -rf .run/lock-check && mkdir -p .run/lock-check
	cp -r pyproject.toml README.md LICENSE locks .run/lock-check/
	@echo "make lock-check: what make lock makes of pyproject.toml and locks/, into .run/lock-check/locks/"
	@$(call compile_locks,.run/lock-check)
	diff -r locks .run/lock-check/locks
	@echo "make lock-check: locks/ is exactly what make lock produces"

clean:
	rm -rf $(VENV) $(UV_DIR) .run .cache .pytest_cache .mypy_cache .ruff_cache *.egg-info build dist
