"""Fixtures for tests against a real cluster: the local control plane, or INFEROPS_KUBECONFIG."""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from pathlib import Path

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.client import K8sClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from k8s_helpers import ROOT, wait_until  # noqa: E402  pylint: disable=wrong-import-position


def _kubeconfig():
    given = os.environ.get("INFEROPS_KUBECONFIG")
    if given:
        return given, True
    state = os.environ.get("INFEROPS_CLUSTER_DIR") or str(ROOT / ".cluster")
    return str(Path(state) / "kubeconfig"), False


@pytest.fixture(scope="session")
def kubeconfig():
    path, given = _kubeconfig()
    if not Path(path).is_file():
        if given:
            pytest.fail("INFEROPS_KUBECONFIG=%s does not exist" % path)
        pytest.skip("no cluster: run `make test` (starts the local control plane) or set INFEROPS_KUBECONFIG")
    return path


@pytest.fixture(scope="session")
def k8s(kubeconfig):
    return K8sClient({"kubeconfig": kubeconfig})


@pytest.fixture
def namespace(k8s):
    """A namespace of its own for one test, deleted afterwards."""
    name = "it-%s" % uuid.uuid4().hex[:8]
    ns = k8s.resource("v1", "Namespace")
    ns.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    # The ServiceAccount admission plugin refuses pods until the namespace's default account exists.
    wait_until(lambda: k8s.get("v1", "ServiceAccount", "default", name) is not None, 30, "default ServiceAccount in %s" % name)
    yield name
    ns.delete(name=name)


@pytest.fixture(scope="session")
def upstream_crds(kubeconfig):
    """KEDA, prometheus-operator, KServe, cert-manager and Gateway API CRDs, from their Go modules."""
    spec = importlib.util.spec_from_file_location("crds", ROOT / "tests" / "cluster" / "crds.py")
    crds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(crds)
    out = ROOT / ".tmp" / "crds"
    target = out / "crds.yaml"
    try:
        if not crds.is_current(target):
            crds.fetch(out)
        return crds.install(Path(kubeconfig), target)
    except crds.GoNotFound as exc:
        pytest.fail("%s (or install these CRDs into the cluster of INFEROPS_KUBECONFIG yourself)" % exc)
