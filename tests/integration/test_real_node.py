"""inference_stack on the local cluster's REAL node (tests/node/node.sh): a kubelet from k8s.io/kubernetes,
containerd and runc from Debian, images built here (tests/node/images.sh), a stand-in device plugin for
nvidia.com/gpu. Containers really start: Triton (from nvidia-pytriton's wheel) serves the harness's tiny
python-backend model (tests/node/models/linear_model.py) from a hostPath PersistentVolume, on CPU.

What each test reads is not the module's own word: the pod's status and the container's log through
the API server (the kubelet's answers), a process inside the container (`kubectl exec`), the server's
answers through the Service (the API server's service proxy, on 127.0.0.1, which sends each request to
a ready endpoint of the Service), and containerd's own list of containers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from kubernetes import client as kclient
from kubernetes import config as kconfig

from k8s_helpers import ROOT, wait_until
from k8s_helpers import run_module as _run_module

pytestmark = pytest.mark.integration

NODE = "127.0.0.1"
STATE = Path(os.environ.get("INFEROPS_CLUSTER_DIR") or ROOT / ".cluster")
TOLERATE_REAL_NODE = [{"key": "inferops.io/real-node", "operator": "Exists", "effect": "NoSchedule"}]
SELECTOR = "app.kubernetes.io/instance=%s,app.kubernetes.io/component=model-server"
EXECUTED = "inferops-linear: executed"
X = [[1.0, 2.0, 3.0, 4.0]]


def _tool(name):
    return subprocess.run([str(ROOT / "tests" / "cluster" / "build.sh")], capture_output=True, text=True, check=True).stdout.strip() + "/" + name


@pytest.fixture(scope="session")
def real_node(k8s):
    """The real node, Ready with its stand-in GPUs; on the local cluster its absence is a failure."""
    node = k8s.get("v1", "Node", NODE)
    conditions = {c["type"]: c["status"] for c in ((node or {}).get("status") or {}).get("conditions") or []}
    if conditions.get("Ready") != "True" or (node["metadata"].get("labels") or {}).get("inferops.io/node") != "real":
        why = "the real node %s is not Ready (tests/node/node.sh up, run by tests/cluster/cluster.sh up)" % NODE
        if os.environ.get("INFEROPS_LOCAL_CLUSTER") == "1":
            pytest.fail(why)
        pytest.skip(why + "; INFEROPS_KUBECONFIG names a cluster without it")
    return node


@pytest.fixture(scope="session")
def local_images(real_node):  # pylint: disable=unused-argument
    """name -> ref@digest of the node's images (tests/node/images.sh's manifest)."""
    manifest = json.loads((STATE / "images.json").read_text())
    return {name: "%s@%s" % (image["ref"], image["digest"]) for name, image in manifest.items()}


@pytest.fixture(scope="session")
def triton_image(local_images):
    return local_images["tritonserver"]


@pytest.fixture(scope="session")
def api(kubeconfig):
    return kconfig.new_client_from_config(config_file=kubeconfig)


@pytest.fixture
def models(namespace, real_node):  # pylint: disable=unused-argument
    """The claim `models` in the test's namespace, bound to the real node's model repository."""
    script = ROOT / "tests" / "node" / "models.sh"
    repo = Path(subprocess.run([str(script), "apply", namespace], capture_output=True, text=True, check=True).stdout.strip())
    yield repo
    subprocess.run([str(script), "delete", namespace], capture_output=True, text=True, check=False)


def run_module(name, args):
    # a rollout on the real node waits for containers to start: longer than the helper's default
    return _run_module(name, args, timeout=400)


def weights(repo, version):
    return json.loads((repo / "linear" / str(version) / "linear.json").read_text())


def expected(repo, version, x):
    """y = x @ W + b, computed here from the model's own weight file."""
    w = weights(repo, version)
    return [[sum(row[i] * w["W"][i][j] for i in range(len(row))) + w["b"][j] for j in range(len(w["b"]))] for row in x]


def through_service(api, namespace, service, path, body, timeout=10):
    """POST through the API server's service proxy to SERVICE (name:port): (HTTP status, decoded body or text)."""
    url = "%s/api/v1/namespaces/%s/services/%s/proxy%s" % (api.configuration.host, namespace, service, path)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    # the client's own authentication (the kubeconfig's client certificate, or its token)
    api.update_params_for_auth(headers, [], ["BearerToken"], None, "POST", body)
    try:
        response = api.call_api("POST", url, header_params=headers, body=body, _request_timeout=timeout)
    except kclient.ApiException as exc:
        return exc.status, exc.body
    return response.status, json.loads(response.read())


def infer(api, namespace, service, x=None, timeout=10):
    """One V2 inference through the Service: (HTTP status, decoded body or text)."""
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [len(x or X), 4], "data": x or X}]}
    return through_service(api, namespace, "%s:http" % service, "/v2/models/linear/infer", body, timeout)


def stack_args(kubeconfig, namespace, image, name="linear", **overrides):
    args = dict(
        kubeconfig=kubeconfig, namespace=namespace, name=name, runtime="triton", image=image, create_namespace=True,
        model=dict(name="linear", pvc="models", path="linear", versions=[1], backend="python", max_batch_size=8,
                   # the stand-in GPUs are advertised, not usable: Triton runs the model on CPU
                   instance_kind="cpu",
                   inputs=[{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}],
                   outputs=[{"name": "y", "data_type": "TYPE_FP32", "dims": [2]}]),
        gpu=dict(count=1, product="INFEROPS-STAND-IN"),
        node_selector={"inferops.io/node": "real"}, tolerations=TOLERATE_REAL_NODE,
        resources={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        warmup=dict(count=5, inputs=[{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}]),
        startup_timeout=120, wait=True, wait_timeout=240,
    )
    args.update(overrides)
    return args


def live_pods(k8s, namespace, name):
    return [p for p in k8s.list("v1", "Pod", namespace=namespace, label_selector=SELECTOR % name)
            if not p["metadata"].get("deletionTimestamp")]


def ready_since(pod):
    for condition in pod["status"].get("conditions") or []:
        if condition["type"] == "Ready" and condition["status"] == "True":
            return datetime.fromisoformat(condition["lastTransitionTime"].replace("Z", "+00:00"))
    return None


def logged_at(api, namespace, pod, container, marker):
    """The kubelet's timestamps of the container's log lines that hold marker (the model's own lines)."""
    text = kclient.CoreV1Api(api).read_namespaced_pod_log(pod, namespace, container=container, timestamps=True)
    lines = []
    for line in text.splitlines():
        if marker in line:
            stamp = line.split(" ", 1)[0]
            # RFC 3339 with nanoseconds: Python keeps microseconds
            head, _dot, frac = stamp.rstrip("Z").partition(".")
            lines.append(datetime.fromisoformat("%s.%s+00:00" % (head, (frac + "000000")[:6])))
    return lines


def executed_lines(api, namespace, pod):
    """The model's execute() lines in Triton's container log."""
    return logged_at(api, namespace, pod, "server", EXECUTED)


def restricted_probe(kubeconfig, namespace, pod, container):
    """From a process in the container: (uid, gid, CapEff, CapPrm, what a write to / gives)."""
    probe = kubectl_exec(kubeconfig, namespace, pod, "python3", "-c",
                         "import os\n"
                         "caps = [l.split()[1] for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm'))]\n"
                         "try:\n    open('/written-by-test', 'w')\n    ro = 'writable'\n"
                         "except OSError as e:\n    ro = e.strerror\n"
                         "print(os.getuid(), os.getgid(), *caps, ro)", container=container)
    assert probe.returncode == 0, probe.stderr
    return tuple(probe.stdout.strip().split(" ", 4))


def kubectl_exec(kubeconfig, namespace, pod, *command, container="server"):
    return subprocess.run([_tool("kubectl"), "--kubeconfig", kubeconfig, "exec", "-n", namespace, pod, "-c", container, "--"]
                          + list(command), capture_output=True, text=True, timeout=60, check=False)


def test_triton_runs_restricted_warmed_and_serves(k8s, api, kubeconfig, namespace, models, triton_image):
    result = run_module("inference_stack", stack_args(kubeconfig, namespace, triton_image))
    assert result["rc"] == 0 and not result.get("failed"), result.get("msg")
    assert result["rollout"]["ready"], result["rollout"]

    ns = k8s.get("v1", "Namespace", namespace)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    (pod,) = live_pods(k8s, namespace, "linear")
    assert pod["spec"]["nodeName"] == NODE
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"

    # Warmup gated readiness, as the server's own log tells it: before this test sent anything, the model
    # had executed exactly the warmup's 5 batches, every one of them before the pod turned Ready.
    ready = ready_since(pod)
    warm = executed_lines(api, namespace, pod["metadata"]["name"])
    assert len(warm) == 5, warm
    # Ready's time has whole seconds: a batch logged after the transition would be at or after it.
    assert max(warm).replace(microsecond=0) <= ready, (warm, ready)

    status, body = infer(api, namespace, "linear")
    assert status == 200, body
    assert body["outputs"][0]["name"] == "y"
    assert body["outputs"][0]["data"] == pytest.approx(sum(expected(models, 1, X), []))
    assert len(executed_lines(api, namespace, pod["metadata"]["name"])) == 6

    # The kubelet enforced the restricted context: a process in the container is uid 1000 with no
    # capabilities, and the root filesystem refuses a write.
    uid, gid, cap_eff, cap_prm, write = restricted_probe(kubeconfig, namespace, pod["metadata"]["name"], "server")
    assert (uid, gid) == ("1000", "1000")
    assert int(cap_eff, 16) == 0 and int(cap_prm, 16) == 0
    assert write == "Read-only file system"


def test_config_change_rolls_without_a_failed_request(k8s, api, kubeconfig, namespace, models, triton_image):
    result = run_module("inference_stack", stack_args(kubeconfig, namespace, triton_image, replicas=2))
    assert result["rc"] == 0 and result["rollout"]["ready"], result.get("msg")
    before = {p["metadata"]["name"] for p in live_pods(k8s, namespace, "linear")}
    assert len(before) == 2

    outcomes, stop = [], threading.Event()

    def load():
        # bounded: at most 2000 requests and 300 s, whichever comes first
        deadline = time.monotonic() + 300
        while not stop.is_set() and len(outcomes) < 2000 and time.monotonic() < deadline:
            outcomes.append(infer(api, namespace, "linear"))
            time.sleep(0.05)

    loop = threading.Thread(target=load)
    loop.start()
    try:
        wait_until(lambda: len(outcomes) >= 5, 30, "the request loop running")
        # warmup.count is part of Triton's config.pbtxt: the pod template's config hash changes
        changed = run_module("inference_stack", stack_args(kubeconfig, namespace, triton_image, replicas=2,
                                                           warmup=dict(count=3, inputs=[{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}])))
        time.sleep(2)
    finally:
        stop.set()
        loop.join()
    assert changed["rc"] == 0 and changed["changed"] and changed["rollout"]["ready"], changed.get("msg")
    after = {p["metadata"]["name"] for p in live_pods(k8s, namespace, "linear")}
    assert len(after) == 2 and not after & before, (before, after)
    failed = [o for o in outcomes if o[0] != 200]
    assert not failed, "%d of %d requests failed during the rollout: %s" % (len(failed), len(outcomes), failed[:3])
    # the loop really spanned the rollout: both old pods went away while it ran
    assert len(outcomes) >= 20


def test_model_that_cannot_load_is_diagnosed_from_its_log_and_rolled_back(k8s, api, kubeconfig, namespace, models, triton_image):
    good = run_module("inference_stack", stack_args(kubeconfig, namespace, triton_image))
    assert good["rc"] == 0 and good["rollout"]["ready"], good.get("msg")

    # version 3's model.py finds no weights where it looks: its initialize() raises, Triton fails to load
    # the model and exits (--exit-on-error), and the kubelet restarts it into a crash loop.
    bad_model = dict(stack_args(kubeconfig, namespace, triton_image)["model"], versions=[3])
    bad = run_module("inference_stack", stack_args(kubeconfig, namespace, triton_image, model=bad_model, wait_timeout=60,
                                                   rollback_on_failure=True))
    assert bad.get("failed"), bad
    findings = bad["rollout"]["diagnosis"]
    crash = [f for f in findings if f["cause"] == "crash_loop"]
    assert crash, findings
    # the finding quotes the container's real log: Triton's and the model's own words
    assert any("linear.json" in line for line in crash[0]["details"]["log_lines"]), crash[0]["details"]["log_lines"]
    assert "/models/linear/3/linear.json" in crash[0]["message"], crash[0]["message"]
    assert "model is not where the server looks for it" in crash[0]["message"], crash[0]["message"]
    assert bad["rollback"]["rolled_back"], bad.get("rollback")

    def serving_v1_again():
        pods = live_pods(k8s, namespace, "linear")
        return len(pods) == 1 and ready_since(pods[0]) and infer(api, namespace, "linear")[0] == 200
    wait_until(serving_v1_again, 120, "the rolled-back revision serving")
    status, body = infer(api, namespace, "linear")
    assert body["outputs"][0]["data"] == pytest.approx(sum(expected(models, 1, X), []))


def test_absent_stops_the_containers(k8s, kubeconfig, namespace, models, triton_image):
    result = run_module("inference_stack", stack_args(kubeconfig, namespace, triton_image))
    assert result["rc"] == 0 and result["rollout"]["ready"], result.get("msg")

    def containers():
        """containerd's own list of the namespace's containers on the node."""
        sock = STATE / "node" / "containerd" / "containerd.sock"
        out = subprocess.run(["ctr", "--address", str(sock), "--namespace", "k8s.io", "containers", "ls", "-q",
                              "labels.\"io.kubernetes.pod.namespace\"==%s" % namespace],
                             capture_output=True, text=True, check=True).stdout.split()
        return out

    assert containers()
    gone = run_module("inference_stack", stack_args(kubeconfig, namespace, triton_image, state="absent"))
    assert gone["rc"] == 0 and gone["changed"], gone.get("msg")
    wait_until(lambda: not live_pods(k8s, namespace, "linear") and not k8s.list("v1", "Pod", namespace=namespace), 90,
               "the stack's pods deleted")
    wait_until(lambda: not containers(), 60, "containerd to have no container of %s" % namespace)


def test_a_local_image_that_was_never_built_is_named_with_the_command_that_builds_it(kubeconfig, namespace, models):
    image = "localhost/inferops/tritonserver:0.0.0-never-built"
    result = run_module("inference_stack", stack_args(kubeconfig, namespace, image, wait_timeout=30))
    assert result.get("failed"), result
    (finding,) = [f for f in result["rollout"]["diagnosis"] if f["cause"] == "image_pull"]
    # the kubelet's own pull error is quoted: containerd tried localhost itself (Go never proxies it), nowhere else
    assert finding["details"]["image"] == image
    assert "dial tcp 127.0.0.1:" in finding["message"], finding["message"]
    assert image in finding["message"] and "make images" in finding["message"], finding["message"]


def test_a_kubelet_that_cannot_start_fails_node_up_with_its_last_log_lines(tmp_path, kubeconfig, real_node):  # pylint: disable=unused-argument
    """node.sh up with a kubelet that exits at once, on a node state of its own (its own containerd, bridge
    name and state directory; the running real node is not touched): up fails in bounded time and says why."""
    kubelet = tmp_path / "kubelet"
    kubelet.write_text("#!/bin/sh\n[ \"$1\" = --version ] && { echo 'Kubernetes v0.0.0-test'; exit 0; }\n"
                       "echo 'E1204 failed to run Kubelet: inferops test: this kubelet refuses to start' >&2\nexit 1\n")
    kubelet.chmod(0o755)
    # a short path: the node's unix sockets live under it (108 bytes at most)
    state = Path(tempfile.mkdtemp(prefix="inferops-", dir="/tmp"))
    # the PKI of the cluster these tests run on (cluster.sh's INFEROPS_CLUSTER_NAME, inferops unless set)
    pki = STATE / "kwok" / "clusters" / os.environ.get("INFEROPS_CLUSTER_NAME", "inferops") / "pki"
    env = dict(os.environ, INFEROPS_CLUSTER_DIR=str(state), KUBECONFIG_PATH=kubeconfig, INFEROPS_KUBELET_BIN=str(kubelet),
               INFEROPS_CLUSTER_PKI=str(pki), INFEROPS_NODE_BRIDGE="inferops-t0",
               INFEROPS_NODE_NAME="inferops-test-node", INFEROPS_POD_SUBNET="10.88.1.0/24", INFEROPS_NODE_READY_TIMEOUT="60")
    node = str(ROOT / "tests" / "node" / "node.sh")
    try:
        started = time.monotonic()
        up = subprocess.run([node, "up"], env=env, capture_output=True, text=True, timeout=300, check=False)
        assert up.returncode != 0
        assert time.monotonic() - started < 120
        assert "the kubelet exited" in up.stderr, up.stderr[-3000:]
        assert "this kubelet refuses to start" in up.stderr, up.stderr[-3000:]
    finally:
        subprocess.run([node, "down"], env=env, capture_output=True, text=True, timeout=120, check=False)
        shutil.rmtree(state, ignore_errors=True)


# --- KServe: its real controller (tests/cluster/kserve.sh) and model server on the real node -----------

KSERVE_SH = ROOT / "tests" / "cluster" / "kserve.sh"
RUNTIMES_PYTHON = ROOT / ".tmp" / "runtimes-venv" / "bin" / "python"
RUNTIME_MODELS = ROOT / "tests" / "runtimes" / "models"
PREDICTED = "inferops-sklearn: predicted"
# rows 0, 50 and 100 of scikit-learn's bundled iris data: one of each class
IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [7.0, 3.2, 4.7, 1.4], [6.3, 3.3, 6.0, 2.5]]
KSERVE_POD = "serving.kserve.io/inferenceservice=%s"


@pytest.fixture(scope="module")
def kserve_controller(k8s, real_node, upstream_crds):  # pylint: disable=unused-argument
    """KServe's own controller manager, built from its Go module, for this module's tests only: the rest of
    the suite checks what happens with no KServe controller."""
    # a cold build of the manager takes minutes; tests/run.sh starts it in the background earlier
    up = subprocess.run([str(KSERVE_SH), "up"], capture_output=True, text=True, timeout=1800, check=False)
    assert up.returncode == 0, up.stderr[-4000:]
    yield
    # InferenceServices being deleted keep KServe's finalizer until the controller has cleaned up after them
    try:
        wait_until(lambda: not [i for i in k8s.list("serving.kserve.io/v1beta1", "InferenceService")
                                if i["metadata"].get("deletionTimestamp")], 60, "deleted InferenceServices finalized")
    finally:
        subprocess.run([str(KSERVE_SH), "down"], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def kserve_namespace(api, namespace, kserve_controller):  # pylint: disable=unused-argument
    """The test's namespace, opted in to the local KServe's webhooks (kserve.sh registers them for this label)."""
    kclient.CoreV1Api(api).patch_namespace(namespace, {"metadata": {"labels": {"inferops.io/kserve": "local"}}})
    return namespace


@pytest.fixture
def sklearn_model(models):
    """<models>/sklearn/model.joblib (made by the runtime tests' make_models.py) and its answers for IRIS_ROWS."""
    if not RUNTIMES_PYTHON.exists():
        pytest.fail("the runtimes venv is not built (tests/runtimes/setup.sh): it makes the scikit-learn model")
    out = models / "sklearn"
    script = ("import json, sys\nfrom pathlib import Path\nsys.path.insert(0, sys.argv[1])\nimport joblib, make_models\n"
              "make_models.sklearn_model(Path(sys.argv[2]))\n"
              "model = joblib.load(Path(sys.argv[2]) / 'model.joblib')\n"
              "print(json.dumps(model.predict(json.loads(sys.argv[3])).tolist()))\n")
    made = subprocess.run([str(RUNTIMES_PYTHON), "-c", script, str(RUNTIME_MODELS), str(out), json.dumps(IRIS_ROWS)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert made.returncode == 0, made.stderr
    (out / "model.joblib").chmod(0o644)
    out.chmod(0o755)
    answers = json.loads(made.stdout)
    # the data set's own labels for these rows
    assert answers == [0, 1, 2]
    return answers


def kserve_args(kubeconfig, namespace, images, **overrides):
    args = dict(
        kubeconfig=kubeconfig, namespace=namespace, name="iris", runtime="kserve", image=images["kserve-sklearn"],
        create_namespace=True,
        model=dict(name="iris", format="sklearn", pvc="models", path="sklearn"),
        # KServe's own autoscaler: an HPA between 1 and 2 replicas on 70 % CPU (no metrics here: it holds 1)
        kserve=dict(protocol="v1", max_replicas=2, scale_metric="cpu", scale_target=70),
        gpu=dict(count=1, product="INFEROPS-STAND-IN"),
        node_selector={"inferops.io/node": "real"}, tolerations=TOLERATE_REAL_NODE,
        resources={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        warmup=dict(count=5, body={"instances": IRIS_ROWS[:1]}, image=images["python"]),
        startup_timeout=120, wait=True, wait_timeout=240,
    )
    args.update(overrides)
    return args


def kserve_pods(k8s, namespace, name="iris"):
    return [p for p in k8s.list("v1", "Pod", namespace=namespace, label_selector=KSERVE_POD % name)
            if not p["metadata"].get("deletionTimestamp")]


def kserve_hpas(k8s, namespace):
    """The HPAs KServe's controller made for an InferenceService (owned by it)."""
    return [h for h in k8s.list("autoscaling/v2", "HorizontalPodAutoscaler", namespace=namespace)
            if any(o.get("kind") == "InferenceService" for o in h["metadata"].get("ownerReferences") or [])]


def predicted_lines(api, namespace, pod):
    """The model's prediction lines in KServe's model server log."""
    return logged_at(api, namespace, pod, "kserve-container", PREDICTED)


def test_kserve_controller_runs_the_model_server_restricted_warmed_and_serving(
        k8s, api, kubeconfig, kserve_namespace, sklearn_model, local_images):
    namespace = kserve_namespace
    result = run_module("inference_stack", kserve_args(kubeconfig, namespace, local_images))
    assert result["rc"] == 0 and not result.get("failed"), result.get("msg")
    assert result["rollout"]["ready"], result["rollout"]

    # KServe's controller turned the InferenceService into a Deployment and Service, and says it is Ready
    isvc = k8s.get("serving.kserve.io/v1beta1", "InferenceService", "iris", namespace)
    conditions = {c["type"]: c["status"] for c in isvc["status"]["conditions"]}
    assert conditions["Ready"] == "True", isvc["status"]
    deployment = k8s.get("apps/v1", "Deployment", "iris-predictor", namespace)
    assert deployment["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"
    (pod,) = kserve_pods(k8s, namespace)
    assert pod["spec"]["nodeName"] == NODE
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert set(containers) == {"kserve-container", "warmup"}
    assert containers["kserve-container"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    # the collection's PodDisruptionBudget covers KServe's pod: the disruption controller counts it
    wait_until(lambda: (k8s.get("policy/v1", "PodDisruptionBudget", "iris", namespace).get("status") or {}).get(
        "expectedPods") == 1, 30, "the PodDisruptionBudget to count the pod")
    # KServe's pod mutator mounted the claim's sklearn/ directory where the server looks
    mounts = {m["mountPath"]: m for m in containers["kserve-container"]["volumeMounts"]}
    assert mounts["/mnt/models"].get("subPath") == "sklearn", mounts

    # Warmup gated readiness, as the model server's own log tells it: before this test sent anything, the
    # model had predicted exactly the sidecar's 5 requests, all before the pod turned Ready.
    name = pod["metadata"]["name"]
    warm = predicted_lines(api, namespace, name)
    assert len(warm) == 5, warm
    assert max(warm).replace(microsecond=0) <= ready_since(pod), (warm, ready_since(pod))

    # V1 and V2 through KServe's Service, checked against the model file's own predictions and iris's labels
    service = k8s.get("v1", "Service", "iris-predictor", namespace)
    port = service["spec"]["ports"][0]
    target = "iris-predictor:%s" % (port.get("name") or port["port"])
    status, body = through_service(api, namespace, target, "/v1/models/iris:predict", {"instances": IRIS_ROWS})
    assert status == 200, body
    assert body["predictions"] == sklearn_model
    v2 = {"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [3, 4], "data": sum(IRIS_ROWS, [])}]}
    status, body = through_service(api, namespace, target, "/v2/models/iris/infer", v2)
    assert status == 200, body
    assert body["outputs"][0]["data"] == sklearn_model
    assert len(predicted_lines(api, namespace, name)) == 7

    # The kubelet enforced the restricted context on KServe's container
    uid, gid, cap_eff, cap_prm, write = restricted_probe(kubeconfig, namespace, name, "kserve-container")
    assert (uid, gid) == ("1000", "1000")
    assert int(cap_eff, 16) == 0 and int(cap_prm, 16) == 0
    assert write == "Read-only file system"

    # KServe's defaulting webhook and controller rewrote parts of the objects: a second run still changes nothing
    again = run_module("inference_stack", kserve_args(kubeconfig, namespace, local_images))
    assert again["rc"] == 0 and again["changed"] is False, again.get("objects")

    # KServe's controller made its own HPA from kserve.max_replicas, scale_metric and scale_target ...
    hpa = ("autoscaling/v2", "HorizontalPodAutoscaler")
    wait_until(lambda: kserve_hpas(k8s, namespace), 60, "KServe's own HPA")
    (own,) = kserve_hpas(k8s, namespace)
    assert (own["spec"]["minReplicas"], own["spec"]["maxReplicas"]) == (1, 2), own["spec"]
    assert own["spec"]["metrics"][0]["resource"]["name"] == "cpu", own["spec"]["metrics"]
    assert own["spec"]["metrics"][0]["resource"]["target"].get("averageUtilization") == 70, own["spec"]["metrics"]
    # ... and deletes it once inference_autoscaling puts its own on the predictor (autoscalerClass external);
    # taking that one back gives KServe's HPA back
    scaler = dict(kubeconfig=kubeconfig, namespace=namespace, name="iris", runtime="kserve", min_replicas=1, max_replicas=3,
                  startup_timeout=120, hpa={"metrics": [{"type": "Resource", "resource": {
                      "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]})
    result = run_module("inference_autoscaling", scaler)
    assert result["rc"] == 0, result.get("msg")
    wait_until(lambda: not kserve_hpas(k8s, namespace), 60, "KServe to delete its own HPA")
    ours = k8s.get(*hpa, "iris", namespace)
    assert ours["spec"]["scaleTargetRef"]["name"] == "iris-predictor" and ours["spec"]["maxReplicas"] == 3
    result = run_module("inference_autoscaling", dict(scaler, state="absent"))
    assert result["rc"] == 0 and result["changed"], result.get("msg")
    wait_until(lambda: kserve_hpas(k8s, namespace), 60, "KServe to make its own HPA again")
    assert k8s.get(*hpa, "iris", namespace) is None

    gone = run_module("inference_stack", kserve_args(kubeconfig, namespace, local_images, state="absent"))
    assert gone["rc"] == 0 and gone["changed"], gone.get("msg")
    wait_until(lambda: k8s.get("serving.kserve.io/v1beta1", "InferenceService", "iris", namespace) is None, 60,
               "the InferenceService finalized by KServe")
    wait_until(lambda: not k8s.list("v1", "Pod", namespace=namespace), 90, "KServe's pods deleted")
    assert k8s.get("apps/v1", "Deployment", "iris-predictor", namespace) is None
