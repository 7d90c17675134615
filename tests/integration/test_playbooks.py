"""Playbooks through ansible-playbook against the cluster: the main job and the module's own play."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from k8s_helpers import ROOT, collection_objects, run_module, wait_until

pytestmark = pytest.mark.integration


def ansible_playbook(playbook, kubeconfig, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), INFEROPS_KUBECONFIG=kubeconfig,
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".tmp" / "collections"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), str(playbook), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def test_module_play(kubeconfig):
    proc = ansible_playbook(ROOT / "tests/integration/playbooks/gpu_inventory.yml", kubeconfig, "-e", "test_kubeconfig=" + kubeconfig)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "failed=0" in proc.stdout and "ignored=1" in proc.stdout


@pytest.fixture
def leave_the_cluster_as_found(kubeconfig, k8s):
    """The main job deploys the device plugin; what it added is removed again after the test. As `make run`
    does, the harness's model goes on the claim the local inventory names, on the real node, first."""
    namespace_before = k8s.get("v1", "Namespace", "nvidia-device-plugin")
    runtime_class_before = k8s.get("node.k8s.io/v1", "RuntimeClass", "nvidia")
    serving_before = k8s.get("v1", "Namespace", "inferops-serving")
    models = ROOT / "tests" / "node" / "models.sh"
    subprocess.run([str(models), "apply", "inferops-serving"], check=True, capture_output=True, text=True)
    yield
    subprocess.run([str(models), "delete", "inferops-serving"], check=False, capture_output=True, text=True)
    if namespace_before is None:
        run_module("device_plugin", {"kubeconfig": kubeconfig, "state": "absent", "runtime_class": runtime_class_before is None})
    if serving_before is None and k8s.get("v1", "Namespace", "inferops-serving") is not None:
        k8s.resource("v1", "Namespace").delete(name="inferops-serving")
        wait_until(lambda: k8s.get("v1", "Namespace", "inferops-serving") is None, 120, "namespace inferops-serving gone")


def test_main_job_runs_and_says_what_it_runs(kubeconfig, k8s, leave_the_cluster_as_found):
    proc = ansible_playbook(ROOT / "playbooks/site.yml", kubeconfig, "-i", str(ROOT / "inventories/local/hosts.yml"))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "not in this version yet" in proc.stdout
    assert "The device plugin runs on 5 GPU node(s)" in proc.stdout
    assert "NVIDIA-H100-80GB-HBM3: 2 node(s)" in proc.stdout
    # the model service of the local inventory: applied, its rollout waited for, a real Triton on the
    # real node that answers through its Service what the model's weights say it should
    assert "triton service inferops-serving/linear" in proc.stdout
    assert "rollout ready after" in proc.stdout
    pods = k8s.list("v1", "Pod", namespace="inferops-serving", label_selector="app.kubernetes.io/instance=linear")
    assert len(pods) == 1 and pods[0]["spec"]["nodeName"] == "127.0.0.1"
    assert [c["ready"] for c in pods[0]["status"]["containerStatuses"]] == [True]
    answer = subprocess.run([str(ROOT / "tests" / "node" / "infer.sh"), "inferops-serving", "linear"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert '"data":[12.5,0.5]' in answer.stdout

    # A second run writes nothing: every object the collection manages keeps its resourceVersion,
    # and the recap counts no change on any host.
    managed = collection_objects(kubeconfig)
    kinds = {kind for _version, kind, _namespace, _name in managed}
    assert {"Namespace", "RuntimeClass", "DaemonSet", "ConfigMap", "Deployment", "Service"} <= kinds, sorted(managed)
    again = ansible_playbook(ROOT / "playbooks/site.yml", kubeconfig, "-i", str(ROOT / "inventories/local/hosts.yml"))
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    recap = recap_counts(again.stdout)
    assert recap and all(counts["changed"] == 0 for counts in recap.values()), again.stdout[-4000:]
    rewritten = {key: (managed.get(key), version) for key, version in collection_objects(kubeconfig).items()
                 if managed.get(key) != version}
    assert not rewritten, "the second run wrote (resourceVersion before, after): %s" % rewritten
    assert set(collection_objects(kubeconfig)) == set(managed)


def recap_counts(stdout):
    """{host: {ok, changed, ...}} from the PLAY RECAP of ansible-playbook's output."""
    recap = stdout.rpartition("PLAY RECAP")[2]
    return {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
            for m in re.finditer(r"^(\S+)\s+:\s+(.*)$", recap, re.M)}


def test_main_job_parses_for_the_production_example(kubeconfig):
    # GPU host plays included: the example inventory has gpu_nodes; nothing is contacted in a syntax check
    proc = ansible_playbook(ROOT / "playbooks/site.yml", kubeconfig, "--syntax-check", "-i",
                            str(ROOT / "inventories/production-example/hosts.yml"))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("inventory", ["local", "production-example"])
def test_each_inventorys_model_service_and_parts_pass_the_roles_preflight(kubeconfig, inventory):
    # the serving_runtime role's own checks (the stack, and each part by its module's rules) on the inventory's
    # variables, as the main job runs them first; a bad part would fail here with the variable's name
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), INFEROPS_KUBECONFIG=kubeconfig,
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".tmp" / "collections"), ANSIBLE_NOCOLOR="1")
    # the local inventory reads the real node's image digests from .cluster/images.json: a stand-in digest here
    images = {"inferops_local_images": {"tritonserver": {"ref": "localhost/inferops/tritonserver:0.7.0", "digest": "sha256:" + "0" * 64}}}
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible"), "-i", str(ROOT / "inventories" / inventory / "hosts.yml"), "localhost",
         "-e", json.dumps(images), "-m", "ansible.builtin.include_role", "-a", "name=inferops.kubernetes.serving_runtime tasks_from=preflight"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.stdout.count("All assertions passed") == 2, proc.stdout[-4000:]
