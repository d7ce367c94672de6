# chaoslab: the front door. `make help` lists every target.
# Everything installs into a local virtual environment ($(VENV)); nothing system-wide.

PYTHON    ?= python3
VENV      ?= .venv
# The lab's state directory: empty leaves it to chaoslab itself (CHAOSLAB_STATE_DIR, else .chaoslab).
STATE_DIR ?=
SERVICE   ?= service-a
SCENARIO  ?=
# Kubernetes (kind): one team's lab in its own namespace.
TARGET    ?= $(or $(CHAOSLAB_TARGET),local)
TEAM      ?= lab
TEAMS     ?= red blue green
NAMESPACE ?= chaoslab-$(TEAM)
PLATFORM_NAMESPACE ?= chaoslab-platform
CLUSTER   ?= chaoslab
IMAGE     ?= chaoslab
# REGISTRY: a registry path (registry.example.org/chaoslab): `make images` pushes there instead of loading
# into kind, and the releases pull from it. WORKERS: worker nodes of `make cluster` besides its control plane.
REGISTRY  ?=
IMAGE_REF := $(if $(REGISTRY),$(REGISTRY)/$(IMAGE),$(IMAGE))
WORKERS   ?= 0
VERSION   := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' chaoslab/__init__.py)
PYTEST_ARGS ?=
# Test files run in parallel, each whole on one worker (its module lab started once); most of a lab
# test's time is waiting on traffic, so three workers on two cores finish in about 11 min where two
# take 17. Tests that judge latency judge it as verify does (against the lab's healthy figures) or
# under light traffic, so three labs at once do not fail them. 1 runs serially.
TEST_WORKERS ?= 3

BIN       := $(VENV)/bin
# helm, promtool, kube-apiserver and etcd built by `make tools` live here (tools/common.sh says where;
# CHAOSLAB_TOOLS_DIR moves it); put them on PATH.
TOOLS_BIN := $(shell sh tools/common.sh)
export PATH := $(TOOLS_BIN):$(PATH)
CHAOSLAB  := $(BIN)/chaoslab $(if $(STATE_DIR),--state-dir $(STATE_DIR)) --target $(TARGET) --namespace $(NAMESPACE)
STAMP     := $(VENV)/.installed
SCENARIOS := $(sort $(basename $(notdir $(wildcard chaos/scenarios/*.yaml))))

.DEFAULT_GOAL := help
.PHONY: help lab up down status logs traces checkout scenarios reset load load-stop verify soak test unit lint format tools docs \
        screenshot proto bench clean cluster kind-config images deploy undeploy cluster-down mesh platform team-up teams team-down \
        team-kubeconfig

help: ## List the targets
	@echo "chaoslab: a chaos lab for incident-response training"
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-15s %s\n", $$1, $$2}'
	@echo
	@echo "Drills (each starts the lab if needed, then the scenario and its traffic):"
	@for id in $(SCENARIOS); do printf "  make scenario-%s\n" $$id; done
	@echo
	@echo "Variables: VENV=$(VENV) STATE_DIR=$(or $(STATE_DIR),$(CHAOSLAB_STATE_DIR),.chaoslab) SERVICE=$(SERVICE) SCENARIO=$(SCENARIO) PYTHON=$(PYTHON)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "chaoslab needs Python 3.11 or newer; set PYTHON=python3.11")'
	@echo "installing chaoslab and its test extras into $(VENV) (a minute or two the first time; log: $(VENV)/install.log)"
	@$(PYTHON) -m venv $(VENV)
	@# pip's and setuptools' chatter goes to the log, shown only when the install fails
	@{ $(BIN)/pip install --upgrade pip && $(BIN)/pip install -e '.[test]'; } > $(VENV)/install.log 2>&1 \
	  || { tail -n 40 $(VENV)/install.log; echo "make: installing into $(VENV) failed; the whole log: $(VENV)/install.log"; exit 1; }
	@touch $@

lab: $(STAMP) ## Install into $(VENV) and start the local lab (embedded PostgreSQL and Redis, no Docker)
	@$(CHAOSLAB) up
	@echo
	@echo "the chaoslab command is in $(BIN): \`source $(BIN)/activate\` puts it on this shell's PATH"

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
	$(CHAOSLAB) checkout

scenarios: $(STAMP) ## List the drills, easiest first
	$(CHAOSLAB) scenario list

scenario-%: $(STAMP) ## Start drill % (e.g. make scenario-deadlock), bringing the lab up first if needed
	@if [ "$(TARGET)" = local ]; then $(CHAOSLAB) status >/dev/null 2>&1 || $(CHAOSLAB) up; fi
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

SOAK_MINUTES ?= 10
soak: $(STAMP) ## Random drills under load on the running lab for SOAK_MINUTES, then the books (chaoslab soak)
	$(CHAOSLAB) soak --minutes $(SOAK_MINUTES)

verify-%: $(STAMP) ## Verify scenario %'s SLO under load (e.g. make verify-deadlock)
	$(CHAOSLAB) verify $*

test: $(STAMP) tools lint ## Install everything, lint, and run the whole test suite (its 15 slowest tests listed)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15 $(PYTEST_ARGS)

lint: $(STAMP) ## ruff (lint and formatting; `make format` rewrites the tree) and the import contracts (.importlinter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/lint-imports

format: $(STAMP) ## Fix what ruff can and reformat the tree
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: $(STAMP) ## Only the fast unit tests
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

tools: ## Install the tools the tests use: promtool, Alertmanager and amtool, helm, kube-apiserver, etcd (in CHAOSLAB_TOOLS_DIR), chromium
	@tools/install

docs: $(STAMP) ## Regenerate the README's reference tables, the chart's alert rules and its Grafana dashboards (charts/chaoslab/files/)
	$(BIN)/python -m chaoslab.docs

screenshot: $(STAMP) tools ## Retake the README's console pictures (docs/console-*.png) from today's console: the deadlock, projection mode, a replay
	CHAOSLAB_README_SCREENSHOT=1 $(BIN)/pytest tests/integration/test_console.py tests/integration/test_console_room.py -n 0 -k "deadlock or projection or replays"

proto: $(STAMP) ## Regenerate the gRPC stubs from services/rpc/ring.proto
	$(BIN)/python services/rpc/generate.py

bench: $(STAMP) ## Run the benchmarks (bench/); figures print as ratios against a baseline
	$(BIN)/python -m bench.hop_overhead
	$(BIN)/python -m bench.metrics_exposition
	$(BIN)/python -m bench.lab_footprint
	$(BIN)/python -m bench.lab_cpu
	$(BIN)/python -m bench.chaos
	$(BIN)/python -m bench.capacity
	$(BIN)/python -m bench.console_cost

# ---- Kubernetes on kind (docs/kubernetes.md) ---------------------------------------------------
# CHART_VALUES: extra values files for every release (e.g. charts/chaoslab/ci/offline-values.yaml,
# the images built on a machine with no registry). PYTHON_IMAGE: the Dockerfile's Python base.
# NODE_IMAGE: kind's node image instead of the one kind-config.yaml pins.
CHART_VALUES ?=
PYTHON_IMAGE ?=
NODE_IMAGE ?=
HELM_FLAGS = $(foreach f,$(CHART_VALUES),-f $(f)) --set image.repository=$(IMAGE_REF) --set image.tag=$(VERSION) \
             --wait --wait-for-jobs --timeout 10m

need-%:
	@command -v $* >/dev/null 2>&1 || { case $* in \
	  kind) echo "kind is missing: go install sigs.k8s.io/kind@v0.33.0 (https://kind.sigs.k8s.io)";; \
	  helm) echo "helm is missing: tools/install-helm, or https://helm.sh/docs/intro/install/";; \
	  kubectl) echo "kubectl is missing: https://kubernetes.io/docs/tasks/tools/";; \
	  docker) echo "docker is missing: kind runs the cluster in Docker (https://docs.docker.com/get-docker/)";; \
	  istioctl) echo "istioctl is missing: https://istio.io/latest/docs/setup/getting-started/";; \
	  *) echo "$* is missing";; esac; exit 1; }

cluster: need-kind need-docker ## Create the local kind cluster from kind-config.yaml (WORKERS=2 adds worker nodes; NODE_IMAGE=... overrides its node image)
	@config=$$(mktemp); $(MAKE) -s --no-print-directory kind-config WORKERS=$(WORKERS) >$$config && \
	kind create cluster --config $$config --name $(CLUSTER) $(if $(NODE_IMAGE),--image $(NODE_IMAGE)); \
	status=$$?; rm -f $$config; exit $$status

kind-config: ## Print the cluster's kind configuration: kind-config.yaml and WORKERS worker nodes on the same node image
	@cat kind-config.yaml
	@image=$$(sed -n 's/^ *image: *//p' kind-config.yaml | head -1); \
	for i in $$(seq 1 $(WORKERS)); do printf '  - role: worker\n    image: %s\n' "$$image"; done

images: need-docker $(if $(REGISTRY),,need-kind) ## Build the chaoslab image (tagged $(VERSION), never latest); load it into kind, or push it to REGISTRY
	docker build --build-arg VERSION=$(VERSION) $(if $(PYTHON_IMAGE),--build-arg PYTHON_IMAGE=$(PYTHON_IMAGE)) \
	  -t $(IMAGE_REF):$(VERSION) .
	$(if $(REGISTRY),docker push $(IMAGE_REF):$(VERSION),kind load docker-image $(IMAGE_REF):$(VERSION) --name $(CLUSTER))

deploy: need-helm need-kubectl ## Install one team's whole lab (TEAM=lab) with its own Jaeger and Prometheus
	kubectl create namespace $(NAMESPACE) --dry-run=client -o yaml | kubectl apply -f -
	kubectl label namespace $(NAMESPACE) chaoslab.io/team=$(TEAM) --overwrite
	helm upgrade --install lab charts/chaoslab -n $(NAMESPACE) --set team=$(TEAM) $(HELM_FLAGS)
	helm test lab -n $(NAMESPACE) || { kubectl -n $(NAMESPACE) logs lab-test-checkout --tail=20; exit 1; }

undeploy: need-helm need-kubectl ## Remove the team's release and namespace
	-helm uninstall lab -n $(NAMESPACE)
	kubectl delete namespace $(NAMESPACE) --ignore-not-found

cluster-down: need-kind ## Delete the kind cluster
	kind delete cluster --name $(CLUSTER)

.PHONY: e2e
e2e: $(STAMP) tools ## The chart on a real kind cluster built here (no registry): pods, drills, cohorts (tools/e2e/run)
	VENV=$(VENV) tools/e2e/run

mesh: need-istioctl need-helm ## Optional: Istio and Kiali for a mesh view of the graph (then deploy with kiali.enabled=true)
	istioctl install -y --set profile=minimal
	helm upgrade --install kiali-server kiali-server --repo https://kiali.org/helm-charts -n istio-system \
	  --set auth.strategy=anonymous --set external_services.prometheus.url=http://prometheus.$(PLATFORM_NAMESPACE):9090

# ---- Cohorts: one namespace per team on a shared cluster ---------------------------------------
platform: need-helm need-kubectl ## The shared platform: collector, Jaeger, Prometheus, the console for every team, instructor role
	kubectl create namespace $(PLATFORM_NAMESPACE) --dry-run=client -o yaml | kubectl apply -f -
	helm upgrade --install platform charts/chaoslab -n $(PLATFORM_NAMESPACE) -f charts/chaoslab/profiles/platform.yaml \
	  --set-json 'observability.watchNamespaces=[$(shell printf '"chaoslab-%s",' $(TEAMS) | sed 's/,$$//')]' \
	  --set console.enabled=true --set-json 'console.teams=[$(shell printf '"%s",' $(TEAMS) | sed 's/,$$//')]' \
	  $(HELM_FLAGS)

team-up: need-helm need-kubectl ## One team's isolated lab: make team-up TEAM=red
	kubectl create namespace chaoslab-$(TEAM) --dry-run=client -o yaml | kubectl apply -f -
	kubectl label namespace chaoslab-$(TEAM) chaoslab.io/team=$(TEAM) --overwrite
	helm upgrade --install $(TEAM) charts/chaoslab -n chaoslab-$(TEAM) -f charts/chaoslab/profiles/team.yaml \
	  --set team=$(TEAM) $(HELM_FLAGS)

teams: ## Every team of the cohort: make teams TEAMS="red blue green"
	@for team in $(TEAMS); do $(MAKE) --no-print-directory team-up TEAM=$$team || exit 1; done

team-down: need-helm need-kubectl ## Remove one team: make team-down TEAM=red
	-helm uninstall $(TEAM) -n chaoslab-$(TEAM)
	kubectl delete namespace chaoslab-$(TEAM) --ignore-not-found

team-kubeconfig: $(STAMP) ## A kubeconfig for a team's trainees (their kubectl sees only their namespace)
	$(BIN)/chaoslab team-kubeconfig --team $(TEAM) -o kubeconfig-$(TEAM).yaml

clean: ## Stop the lab and delete the virtual environment, state and caches
	-@[ -x $(BIN)/chaoslab ] && $(CHAOSLAB) down --purge
	rm -rf $(VENV) .pytest_cache *.egg-info
