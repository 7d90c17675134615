# Two commands for a new user (Python 3.11 and Go >= 1.26 on PATH):
#   make run    the main job on the local cluster (simulated GPU fleet + one real node), ending with one inference
#   make test   the whole test suite (what .ci/run calls)
# Each installs what it needs: .venv with pinned packages, the collection made
# visible to Ansible, the control plane built once into ~/.cache/inferops-kubernetes.

PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
COLLECTIONS := $(CURDIR)/.tmp/collections
LINK := $(COLLECTIONS)/ansible_collections/inferops/kubernetes
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test venv collection cluster-up cluster-down cluster-status unit integration lint typecheck sanity clean gpu-deps

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

collection: venv
	@mkdir -p $(dir $(LINK))
	@[ -L $(LINK) ] || ln -sfn $(CURDIR) $(LINK)

# The local inventory's model service runs on the real node: its model goes on a claim first, and
# the run ends with one inference through the Service.
run: collection
	INFEROPS_REAL_NODE=1 tests/cluster/cluster.sh up
	tests/node/models.sh apply inferops-serving
	INFEROPS_KUBECONFIG=$$(tests/cluster/cluster.sh kubeconfig) ansible-playbook -i inventories/local/hosts.yml playbooks/site.yml
	tests/node/infer.sh inferops-serving linear

test: collection
	tests/run.sh

unit: collection
	pytest -q tests/unit

integration: collection
	tests/cluster/cluster.sh up
	INFEROPS_LOCAL_CLUSTER=1 pytest -q tests/integration

lint: collection
	ansible-lint

# mypy.ini: strict on the access layer (module_utils/k8s, module_utils/common), mypy's default check elsewhere.
typecheck: collection
	MYPYPATH=$(COLLECTIONS) mypy -p ansible_collections.inferops.kubernetes.plugins.module_utils

sanity: collection
	tests/sanity.sh

cluster-up: collection
	tests/cluster/cluster.sh up

cluster-down:
	tests/cluster/cluster.sh down

cluster-status:
	tests/cluster/cluster.sh status

clean:
	-tests/cluster/cluster.sh down
	rm -rf .tmp $(VENV)

# The real node's container images (python, tritonserver, pause) as OCI archives, cached in
# ~/.cache/inferops-kubernetes/images; writes .cluster/images.json (root: debootstrap, chroot).
.PHONY: images
images:
	tests/node/images.sh build

# Test dependencies for a GPU machine without a package index (tests/gpu/device_check.sh).
gpu-deps: venv
	rm -rf .tmp/gpu-deps
	$(VENV)/bin/pip install --quiet --no-deps --target .tmp/gpu-deps \
	  $$(grep -h -E '^(nvidia-ml-py|ansible-core|pytest|PyYAML)==' requirements.txt requirements-dev.txt) pluggy iniconfig packaging pygments

# Real inference servers on CPU for tests/runtimes and benchmarks/warmup_first_request.py:
# .tmp/runtimes-venv from requirements-runtimes.txt, and Java 17 when missing (root, apt-get).
.PHONY: runtimes-venv
runtimes-venv:
	tests/runtimes/setup.sh
