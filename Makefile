# Two commands on a fresh machine:  `make synth`  and  `make test`.
# Everything they need (venv, pinned Python deps, pinned local CDK CLI) is set up here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# The CLI must never phone home or look anything up during synth.
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: setup synth test gateway bench deploy diagrams clean

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements-dev.txt -c constraints.txt
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: setup
	$(CDK) synth --quiet --no-notices --no-version-reporting
	$(PY) scripts/synth_summary.py cdk.out

test: setup
	$(PY) -m pytest

# Run the gateway's HTTP app locally on 127.0.0.1:$${PORT:-8080} with ChatStack's default allowlist.
gateway: setup
	$(PY) scripts/run_gateway.py

bench: setup
	$(PY) benchmarks/gateway_overhead.py
	$(PY) benchmarks/budget_overhead.py
	$(PY) benchmarks/synth_time.py
	$(PY) benchmarks/lora_fleet.py
	$(PY) benchmarks/batch_prepare.py

# Architecture pictures: synthesize (offline), then one SVG per stack from the cloud assembly into docs/diagrams/.
# Needs Graphviz's `dot` (Debian package graphviz), installed here when missing: apt-get as root, else sudo.
# `make test` does not need it (tests/test_diagrams.py checks the DOT, not the rendering).
diagrams: synth
	@command -v dot >/dev/null || { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq graphviz; }
	$(PY) scripts/diagrams.py cdk.out docs/diagrams

# Deploy one stack with the pinned CLI (needs AWS credentials): make deploy STACK=ChatStack
STACK ?= ChatStack
deploy: setup
	$(CDK) deploy $(STACK) --no-notices

clean:
	rm -rf cdk.out dist build .pytest_cache
