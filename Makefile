# guardstream — two commands on a fresh machine: `make demo` and `make test`. `make help` lists the rest.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.guardstream-setup
APT_PACKAGES := kcat ffmpeg fonts-dejavu-core pkg-config libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavdevice-dev libavfilter-dev

.PHONY: help setup system-packages demo test test-all lint typecheck schemas clean

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

system-packages: ## Debian packages: kcat (independent Kafka client), FFmpeg CLI + libraries
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	$(MAKE) system-packages
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q -U pip wheel
	$(PIP) install -q torch==2.13.0   # CPU build first, or a dependency pulls a multi-GB CUDA torch
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## virtualenv with torch (CPU) and the project (idempotent)
	@command -v npm >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; }
	$(VENV)/bin/guardstream models setup   # visual models: npm pack nsfwjs (pinned), convert to ONNX, manifest
	$(PY) -m guardstream.engines.compile build   # MiniLM exported to ONNX + verified vs torch (else: at first use)

demo: setup ## run the main job on embedded defaults (local stack up, uploads through, report, stack down)
	$(VENV)/bin/guardstream demo

test: setup ## the whole test suite (starts the real services it needs), without the long campaign sweeps
	$(VENV)/bin/pytest -q

test-all: setup ## every test, the long campaign sweeps too (e.g. TF.js InceptionV3 fidelity)
	$(VENV)/bin/pytest -q -m ""

lint: setup ## ruff lint + format check, mypy --strict on every package
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(PY) tools/typecheck.py

typecheck: setup ## mypy --strict on every package (through a guardstream/ tree of links; see tools/typecheck.py)
	$(PY) tools/typecheck.py

schemas: setup ## regenerate the committed JSON Schema files from the models
	$(PY) -m guardstream.schemas.generate

clean: ## remove the virtualenv and local stack state
	rm -rf $(VENV) .guardstream
