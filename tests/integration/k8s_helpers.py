"""Helpers shared by the integration tests (imported by name: conftest puts this folder on sys.path)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".tmp" / "collections"
MODULES = "ansible_collections.inferops.kubernetes.plugins.modules"


def fleet_tool():
    """tests/cluster/fleet.py as a module (build_nodes, apply_nodes, delete_nodes)."""
    spec = importlib.util.spec_from_file_location("fleet", ROOT / "tests" / "cluster" / "fleet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def node_settled(node):
    """A new node the controllers are done with: Ready, and without the node.kubernetes.io/* taints."""
    if not node:
        return False
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions") or [])
    return ready and not any(t["key"].startswith("node.kubernetes.io/") for t in node["spec"].get("taints") or [])


def wait_until(predicate, timeout, what, interval=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def run_module(name, args, check_mode=False, timeout=120):
    """Run a module of the collection as Ansible does on the target: a process with its arguments as JSON."""
    payload = dict(args)
    if check_mode:
        payload["_ansible_check_mode"] = True
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS))
    # the arguments go in a file, as Ansible passes them: a fleet's worth is too long for argv
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, handle)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "%s.%s" % (MODULES, name), handle.name],
            capture_output=True, text=True, env=env, timeout=timeout, check=False,
        )
    finally:
        os.unlink(handle.name)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("module %s printed no JSON (rc %s): %s %s" % (name, proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:]))
    result["rc"] = proc.returncode
    return result


def gpu_pod(name, namespace, resources, node_selector=None, tolerations=None):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 0,
            "nodeSelector": node_selector or {},
            "tolerations": tolerations or [],
            "containers": [{
                "name": "model",
                "image": "registry.invalid/inference:1.0",
                "resources": {"limits": {k: str(v) for k, v in resources.items()}},
            }],
        },
    }


def pod_phase(k8s, name, namespace):
    pod = k8s.get("v1", "Pod", name, namespace)
    return (pod or {}).get("status", {}).get("phase")


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def audit_log(kubeconfig):
    """The audit log of the local control plane behind kubeconfig, as (path, None), or (None, why not).

    tests/cluster/cluster.sh keeps the kubeconfig at the top of its state directory and kwok's logs
    under it; the kubeconfig in use is compared with each candidate's as a file, so a symlinked
    checkout or another INFEROPS_CLUSTER_DIR still finds its log. The audit policy records writes to
    nodes only (tests/cluster/audit-policy.yaml).
    """
    name = os.environ.get("INFEROPS_CLUSTER_NAME", "inferops")
    candidates = [Path(os.environ["INFEROPS_CLUSTER_DIR"])] if os.environ.get("INFEROPS_CLUSTER_DIR") else []
    candidates += [Path(kubeconfig).resolve().parent, ROOT / ".cluster"]
    for state in candidates:
        if not _same_file(state / "kubeconfig", kubeconfig):
            continue
        path = state / "kwok" / "clusters" / name / "logs" / "audit.log"
        if path.is_file():
            return path, None
        return None, "the kubeconfig %s belongs to the local cluster state %s, which has no audit log at %s" % (kubeconfig, state, path)
    return None, "the kubeconfig %s is not the one of a local cluster made by tests/cluster/cluster.sh (looked in %s)" % (
        kubeconfig, ", ".join(str(c) for c in candidates))


def audit_log_or_fail(kubeconfig, what):
    """The audit log; without one, fail when the test command started the local cluster itself
    (INFEROPS_LOCAL_CLUSTER=1, set by tests/run.sh and `make integration`), else skip saying why."""
    path, why = audit_log(kubeconfig)
    if path is None:
        message = "%s needs the local control plane's audit log: %s" % (what, why)
        if os.environ.get("INFEROPS_LOCAL_CLUSTER") == "1":
            pytest.fail(message + " (INFEROPS_LOCAL_CLUSTER=1: the local cluster is in use, so its log must be found)")
        pytest.skip(message)
    return path


def node_writes(log, names, user_agent="inferops-kubernetes"):
    """Successful, not dry-run writes to the named nodes by that client, as the API server audited them."""
    names = set(names)
    count = 0
    with open(log, encoding="utf-8") as handle:
        for line in handle:
            event = json.loads(line)
            ref = event.get("objectRef") or {}
            if (event.get("verb") in ("patch", "update") and ref.get("resource") == "nodes" and not ref.get("subresource")
                    and ref.get("name") in names and "dryRun" not in event.get("requestURI", "")
                    and (event.get("userAgent") or "").startswith(user_agent)
                    and (event.get("responseStatus") or {}).get("code", 0) < 300):
                count += 1
    return count


MANAGED_BY_LABEL = "app.kubernetes.io/managed-by=inferops.kubernetes"
FIELD_MANAGER = "inferops.kubernetes"


def collection_objects(kubeconfig):
    """{(group/version, kind, namespace, name): resourceVersion} of every object in the cluster that the
    collection writes: its field manager in managedFields, or its managed-by label.

    Read with the kubernetes package alone (discovery, then a plain list of every listable kind), not
    through the collection's client, so that what is measured does not depend on the code under test.
    """
    from kubernetes import config  # pylint: disable=import-outside-toplevel
    from kubernetes.dynamic import DynamicClient  # pylint: disable=import-outside-toplevel

    api = config.new_client_from_config(config_file=kubeconfig)
    found = {}
    for resource in DynamicClient(api).resources.search(preferred=True):
        if "/" in (resource.name or "") or "list" not in (resource.verbs or []) or resource.kind.endswith("List"):
            continue
        if resource.kind in ("Event", "Lease"):  # written by the cluster all the time, never by the collection
            continue
        path = "/%s/%s/%s" % (resource.prefix, resource.group_version, resource.name)
        response = api.call_api(*api.param_serialize("GET", path, auth_settings=["BearerToken"]))
        for item in json.loads(response.read()).get("items") or []:
            metadata = item["metadata"]
            managers = {entry.get("manager") for entry in metadata.get("managedFields") or []}
            labelled = (metadata.get("labels") or {}).get("app.kubernetes.io/managed-by") == "inferops.kubernetes"
            if FIELD_MANAGER in managers or labelled:
                key = (resource.group_version, resource.kind, metadata.get("namespace", ""), metadata["name"])
                found[key] = metadata["resourceVersion"]
    return found


def load_rendered(paths):
    """The objects of a render mode's files, in order."""
    result = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            result.append(yaml.safe_load(handle))
    return result


def assert_contains(stored, sent, where):
    """Every field sent is stored with the same value: the API server (or a CRD's schema) pruned nothing."""
    if isinstance(sent, dict):
        assert isinstance(stored, dict), "%s: %r stored as %r" % (where, sent, stored)
        for key, value in sent.items():
            assert key in stored, "%s.%s was dropped by the API server" % (where, key)
            assert_contains(stored[key], value, "%s.%s" % (where, key))
    elif isinstance(sent, list):
        assert isinstance(stored, list) and len(stored) == len(sent), "%s: list changed" % where
        for index, (left, right) in enumerate(zip(stored, sent)):
            assert_contains(left, right, "%s[%d]" % (where, index))
    elif not (isinstance(sent, int) and str(sent) == str(stored)):
        assert stored == sent, "%s: sent %r, stored %r" % (where, sent, stored)
