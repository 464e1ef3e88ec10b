# dbops.aurora: the two commands are `make demo` (run the main job on the local AWS stand-in)
# and `make test` (every test tier).  Both set up what they need first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
ROOT := $(CURDIR)
BIN := $(ROOT)/.venv/bin
STATE ?= $(ROOT)/.state/emulator
# A worker per core: each starts its own stand-in and PostgreSQL server on free ports.
PYTEST_ARGS ?= -n auto

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/.collections
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg

.PHONY: setup test checks units sanity lint molecule demo emulator-up emulator-down clean

setup:
	@scripts/setup.sh

# pytest, sanity and lint side by side (scripts/checks.sh), then the molecule scenarios.
test: setup
	@start=$$(date +%s); \
	scripts/checks.sh; \
	$(MAKE) --no-print-directory molecule; \
	echo "==> all test tiers passed in $$(( $$(date +%s) - start ))s"

checks:
	@scripts/checks.sh

units:
	@echo "==> pytest (tests/unit, against the emulator over real HTTP)"
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

sanity:
	@echo "==> ansible-test sanity (no ignore entries)"
	@scripts/sanity.sh

lint:
	@echo "==> ansible-lint --profile production"
	$(BIN)/ansible-lint --profile production

molecule:
	@echo "==> molecule (every scenario in extensions/molecule)"
	@scripts/molecule.sh

demo: setup
	@scripts/demo.sh "$(STATE)"

emulator-up: setup
	@tests/emulator/aws-emulator up --state-dir "$(STATE)"

emulator-down:
	@tests/emulator/aws-emulator down --state-dir "$(STATE)"

clean: emulator-down
	rm -rf build tests/output .pytest_cache
