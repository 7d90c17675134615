"""Applying one model service's stack: inference_stack against kubernetes.core.k8s tasks, through ansible-playbook.

    .venv/bin/python benchmarks/stack_apply.py [--rounds 5] [--kubeconfig PATH] [--no-count-requests]

The stack is two models on H100 nodes, KServe-free so it needs no CRDs: `resnet` on TF Serving (1 GPU,
two versions with a label, the warmup sidecar) and `bert` on Triton's onnxruntime backend (1 GPU, native
model_warmup). inference_stack renders them as 9 objects (ConfigMaps, Deployments, Services,
PodDisruptionBudgets). Three sides, each a real `ansible-playbook` run generated into a temporary directory,
all run by the same ansible-core from .tmp/bench-venv (benchmarks/requirements-bench.txt, created on the
first run), so the sides differ only in what applies the objects:

- inference_stack: one task per model, as a user writes it;
- kubernetes.core.k8s per object: one task per object, each the file inference_stack's render mode wrote
  for it (so both sides apply the very same objects), with server-side apply as inference_stack uses;
- kubernetes.core.k8s one task: the same objects in one multi-document file, one task.

Each round gives every side a fresh namespace (with a bound `models` PVC), times a first apply and, once the
Deployments are available, a no-op re-run, then deletes the namespace. Reported per side: median wall times
(the whole ansible-playbook process, as a user sees it), `changed` from the play recap, and how many of the
9 objects got a new metadata.resourceVersion during the no-op re-run (what the API server really wrote).

With request counting on (the default), one more untimed round runs each side through a small counting proxy
in front of the API server and classifies every HTTP request it made: discovery, reads, writes (POST, PUT,
PATCH, DELETE) and dry-run writes. A server-side apply that changes nothing is still a PATCH request: it is
counted as a write request even though the server stores nothing and the resourceVersion stays.

Results: stdout as Markdown tables, and benchmarks/results/stack_apply.json. No assertions on times.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import http.server
import json
import os
import platform
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".tmp" / "collections"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.client import K8sClient  # noqa: E402
from k8s_helpers import run_module, wait_until  # noqa: E402

BENCH_VENV = ROOT / ".tmp" / "bench-venv"
REQUIREMENTS = ROOT / "benchmarks" / "requirements-bench.txt"
COLLECTIONS = ROOT / ".tmp" / "collections"
H100 = "NVIDIA-H100-80GB-HBM3"

# The two models, as inference_stack options (name and namespace added per run).
STACKS = {
    "resnet": dict(runtime="tensorflow_serving",
                   model={"name": "resnet", "pvc": "models", "path": "resnet", "versions": [1, 2], "version_labels": {"stable": 1}},
                   gpu={"count": 1, "product": H100}, warmup={"body": {"instances": [[1.0, 2.0]]}}),
    "bert": dict(runtime="triton",
                 model={"name": "bert", "pvc": "models", "path": "repo/bert", "backend": "onnxruntime", "versions": [1]},
                 gpu={"count": 1, "product": H100},
                 warmup={"inputs": [{"name": "input_ids", "data_type": "TYPE_INT64", "dims": [128]}]}),
}
SIDES = ("inference_stack", "kubernetes.core.k8s per object", "kubernetes.core.k8s one task")
K8S_FIELD_MANAGER = "bench-kubernetes-core"
RUNS = ("first apply", "no-op re-run")
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def bench_venv():
    """.tmp/bench-venv with benchmarks/requirements-bench.txt installed; rebuilt when that file changes."""
    stamp = BENCH_VENV / ".requirements-sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == wanted:
        return BENCH_VENV
    print("creating %s from %s ..." % (BENCH_VENV.relative_to(ROOT), REQUIREMENTS.relative_to(ROOT)), file=sys.stderr)
    shutil.rmtree(BENCH_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
                   check=True)
    stamp.write_text(wanted + "\n", encoding="utf-8")
    return BENCH_VENV


def ansible_env(venv, workdir):
    """Environment for ansible-playbook: the bench venv's ansible-core, this checkout's collection, kubernetes.core from
    the `ansible` package (found on the venv's sys.path), a config of its own so no user or repository setting leaks in."""
    cfg = Path(workdir) / "ansible.cfg"
    cfg.write_text("[defaults]\ncollections_path = %s\ninterpreter_python = %s\nretry_files_enabled = false\n"
                   "stdout_callback = ansible.builtin.default\n" % (COLLECTIONS, venv / "bin" / "python"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "K8S_AUTH_"))}
    env.update(ANSIBLE_CONFIG=str(cfg), PATH="%s:%s" % (venv / "bin", env.get("PATH", "")), ANSIBLE_NOCOLOR="1")
    return env


def make_namespace(client, name):
    """A fresh namespace with its default ServiceAccount and a `models` PVC bound to a PersistentVolume of its own."""
    client.resource("v1", "Namespace").create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    wait_until(lambda: client.get("v1", "ServiceAccount", "default", name) is not None, 60, "default ServiceAccount in %s" % name)
    client.resource("v1", "PersistentVolume").create(body={
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadOnlyMany"], "storageClassName": "",
                 "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": "/srv/models"},
                 "claimRef": {"namespace": name, "name": "models"}}})
    client.resource("v1", "PersistentVolumeClaim").create(namespace=name, body={
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "models", "namespace": name},
        "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "", "volumeName": name,
                 "resources": {"requests": {"storage": "1Gi"}}}})
    wait_until(lambda: (client.get("v1", "PersistentVolumeClaim", "models", name) or {}).get("status", {}).get("phase") == "Bound",
               60, "PVC models bound in %s" % name)


def drop_namespace(client, name):
    """Delete the namespace and its PersistentVolume, and wait until the namespace is gone (its GPUs are free again)."""
    client.resource("v1", "Namespace").delete(name=name)
    wait_until(lambda: client.get("v1", "Namespace", name) is None, 180, "namespace %s deleted" % name)
    client.resource("v1", "PersistentVolume").delete(name=name)


def render_stack(kubeconfig, namespace, out_dir):
    """The objects inference_stack applies, as its render mode writes them: {stack: [file, ...]} in apply order."""
    files = {}
    for name, options in STACKS.items():
        args = dict(options, name=name, namespace=namespace, kubeconfig=kubeconfig, mode="render", render_dir=str(Path(out_dir) / name))
        result = run_module("inference_stack", args)
        if result["rc"]:
            raise SystemExit("inference_stack render failed: %s" % result.get("msg"))
        files[name] = result["rendered_files"]
    return files


def object_refs(files):
    refs = []
    for path in [p for paths in files.values() for p in paths]:
        obj = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        refs.append((obj["apiVersion"], obj["kind"], obj["metadata"]["name"]))
    return refs


def playbook(side, kubeconfig, namespace, files, workdir):
    """The playbook of one side, written into workdir; returns its path."""
    play = {"name": "%s benchmark" % side, "hosts": "localhost", "connection": "local", "gather_facts": False}
    if side == "inference_stack":
        play["tasks"] = [{"name": "%s on %s" % (name, options["runtime"]),
                          "inferops.kubernetes.inference_stack": dict(options, name=name, namespace=namespace, kubeconfig=kubeconfig)}
                         for name, options in STACKS.items()]
    else:
        k8s = {"kubeconfig": kubeconfig, "state": "present", "apply": True, "server_side_apply": {"field_manager": K8S_FIELD_MANAGER}}
        paths = [p for paths in files.values() for p in paths]
        if side == "kubernetes.core.k8s per object":
            play["tasks"] = [{"name": "apply %s" % Path(p).stem, "kubernetes.core.k8s": dict(k8s, src=p)} for p in paths]
        else:
            whole = Path(workdir) / "stack.yaml"
            whole.write_text("---\n".join(Path(p).read_text(encoding="utf-8") for p in paths))
            play["tasks"] = [{"name": "apply the stack", "kubernetes.core.k8s": dict(k8s, src=str(whole))}]
    path = Path(workdir) / ("%s.yml" % re.sub(r"\W+", "-", side))
    path.write_text(yaml.safe_dump([play], sort_keys=False), encoding="utf-8")
    return path


def run_playbook(path, env):
    """Run ansible-playbook; return (wall seconds, `changed` of the recap). Fails the benchmark on a failed play."""
    start = time.perf_counter()
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", str(path)], capture_output=True, text=True, env=env,
                          cwd=str(Path(path).parent), timeout=900, check=False)
    seconds = time.perf_counter() - start
    recap = RECAP.search(proc.stdout)
    if proc.returncode or not recap or int(recap.group(4)) or int(recap.group(3)):
        raise SystemExit("%s failed (rc %s):\n%s\n%s" % (path.name, proc.returncode, proc.stdout[-4000:], proc.stderr[-2000:]))
    return seconds, int(recap.group(2))


def resource_versions(client, namespace, refs):
    return {"%s/%s" % (kind, name): (client.get(api_version, kind, name, namespace) or {}).get("metadata", {}).get("resourceVersion")
            for api_version, kind, name in refs}


def settle(client, namespace, refs):
    """Wait until the controllers are done with the first apply (Deployments available, PDBs observed), so that a
    resourceVersion that moves during the re-run was moved by the re-run."""
    def done():
        for api_version, kind, name in refs:
            obj = client.get(api_version, kind, name, namespace) or {}
            status, spec = obj.get("status") or {}, obj.get("spec") or {}
            if kind in ("Deployment", "PodDisruptionBudget") and status.get("observedGeneration") != obj["metadata"].get("generation"):
                return False
            if kind == "Deployment" and not (status.get("updatedReplicas") == status.get("availableReplicas") == spec.get("replicas")):
                return False
            if kind == "PodDisruptionBudget" and status.get("currentHealthy") != status.get("expectedPods"):
                return False
        return True
    wait_until(done, 180, "the stack in %s to settle" % namespace, interval=0.5)
    time.sleep(1)


@contextlib.contextmanager
def side_in_namespace(client, venv, side, kubeconfig, client_kubeconfig, namespace):
    """A fresh namespace, the stack rendered for it and one side's playbook; yields (playbook, env, object refs).
    The namespace is deleted afterwards."""
    make_namespace(client, namespace)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-stack-") as workdir:
            files = render_stack(kubeconfig, namespace, Path(workdir) / "rendered")
            yield playbook(side, client_kubeconfig, namespace, files, workdir), ansible_env(venv, workdir), object_refs(files)
    finally:
        drop_namespace(client, namespace)


def one_side(client, venv, side, kubeconfig, client_kubeconfig, label):
    """First apply and no-op re-run of one side in a fresh namespace; returns the measurements."""
    namespace = "bench-stack-%s" % label
    load = os.getloadavg()[0]  # the machine is shared: a busy one slows every side, recorded with each result
    with side_in_namespace(client, venv, side, kubeconfig, client_kubeconfig, namespace) as (book, env, refs):
        first_s, first_changed = run_playbook(book, env)
        created = resource_versions(client, namespace, refs)
        missing = sorted(ref for ref, version in created.items() if version is None)
        if missing:
            raise SystemExit("%s did not create %s" % (side, ", ".join(missing)))
        settle(client, namespace, refs)
        before = resource_versions(client, namespace, refs)
        again_s, again_changed = run_playbook(book, env)
        after = resource_versions(client, namespace, refs)
    return {"side": side, "objects": len(refs), "first_s": round(first_s, 3), "first_changed": first_changed,
            "noop_s": round(again_s, 3), "noop_changed": again_changed,
            "noop_new_resource_versions": sum(before[ref] != after[ref] for ref in before), "load_1min": round(load, 2)}


class _CountingProxy(http.server.ThreadingHTTPServer):
    """A plain-HTTP reverse proxy on 127.0.0.1 in front of the API server that records each request's method and path.
    It authenticates to the API server with the kubeconfig's client certificate, so its clients need no credentials."""

    daemon_threads = True

    def __init__(self, kubeconfig):
        config = yaml.safe_load(Path(kubeconfig).read_text(encoding="utf-8"))
        context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        if not (cluster.get("certificate-authority") and user.get("client-certificate") and user.get("client-key")):
            raise SystemExit("request counting needs a kubeconfig with CA and client certificate files (the local control "
                             "plane's); run with --no-count-requests")
        self.upstream = urlsplit(cluster["server"])
        self.tls = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.tls.load_cert_chain(user["client-certificate"], user["client-key"])
        self.requests = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    def kubeconfig(self, path):
        """Write a kubeconfig that points at this proxy; return its path."""
        server = "http://127.0.0.1:%d" % self.server_address[1]
        Path(path).write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "proxy",
            "clusters": [{"name": "proxy", "cluster": {"server": server}}],
            "users": [{"name": "proxy", "user": {}}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}]}), encoding="utf-8")
        return str(path)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        self.server.requests.append((self.command, self.path))
        upstream = http.client.HTTPSConnection(self.server.upstream.hostname, self.server.upstream.port, context=self.server.tls,
                                               timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "authorization")}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Quiet: the requests are recorded, not logged."""


DISCOVERY = re.compile(r"^/(version|api|apis|api/v1|apis/[^/]+(/[^/]+)?|openapi/.*)/?$")


def classify(requests):
    counts = {"discovery": 0, "reads": 0, "writes": 0, "dry_run_writes": 0}
    for method, target in requests:
        url = urlsplit(target)
        if method == "GET":
            counts["discovery" if DISCOVERY.match(url.path) else "reads"] += 1
        else:
            counts["dry_run_writes" if "dryRun" in url.query else "writes"] += 1
    return counts


def count_requests(client, venv, kubeconfig, run_id):
    """One more round, untimed, each side's playbooks talking to the API server through the counting proxy."""
    proxy = _CountingProxy(kubeconfig)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-stack-proxy-") as tmp:
            proxied = proxy.kubeconfig(Path(tmp) / "kubeconfig")
            for number, side in enumerate(SIDES):
                namespace = "bench-stack-count%d-%s" % (number, run_id)
                with side_in_namespace(client, venv, side, kubeconfig, proxied, namespace) as (book, env, refs):
                    for run in RUNS:
                        del proxy.requests[:]
                        run_playbook(book, env)
                        rows.append(dict(classify(proxy.requests), side=side, run=run,
                                         requests=["%s %s" % request for request in proxy.requests]))
                        if run == RUNS[0]:
                            settle(client, namespace, refs)
    finally:
        proxy.shutdown()
        proxy.server_close()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kubeconfig", default=str(ROOT / ".cluster" / "kubeconfig"))
    parser.add_argument("--no-count-requests", dest="count_requests", action="store_false",
                        help="skip the untimed round through the counting proxy")
    args = parser.parse_args(argv)
    args.kubeconfig = str(Path(args.kubeconfig).resolve())  # the playbooks run in their own temporary directories
    if not (COLLECTIONS / "ansible_collections" / "inferops" / "kubernetes").exists():
        raise SystemExit("the collection is not linked into .tmp/collections: run `make collection` first")
    venv = bench_venv()
    client = K8sClient({"kubeconfig": args.kubeconfig})
    run_id = uuid.uuid4().hex[:5]
    rounds = []
    for number in range(args.rounds):
        # the order rotates round by round, so no side always runs first on a cluster just cleaned up
        order = SIDES[number % len(SIDES):] + SIDES[:number % len(SIDES)]
        for side in order:
            label = "%d%d-%s" % (number, SIDES.index(side), run_id)
            print("round %d: %s ..." % (number + 1, side), file=sys.stderr)
            rounds.append(dict(one_side(client, venv, side, args.kubeconfig, args.kubeconfig, label), round=number + 1))
    requests = count_requests(client, venv, args.kubeconfig, run_id) if args.count_requests else []

    summary = []
    for side in SIDES:
        mine = [r for r in rounds if r["side"] == side]
        summary.append({"side": side, "objects": mine[0]["objects"],
                        "first_s": round(statistics.median(r["first_s"] for r in mine), 2),
                        "noop_s": round(statistics.median(r["noop_s"] for r in mine), 2),
                        "first_changed": sorted({r["first_changed"] for r in mine}),
                        "noop_changed": sorted({r["noop_changed"] for r in mine}),
                        "noop_new_resource_versions": max(r["noop_new_resource_versions"] for r in mine)})
    base = summary[0]
    for row in summary:
        row["first_ratio"] = round(row["first_s"] / base["first_s"], 2)
        row["noop_ratio"] = round(row["noop_s"] / base["noop_s"], 2)
    versions = subprocess.run([str(venv / "bin" / "ansible-galaxy"), "collection", "list", "kubernetes.core"],
                              capture_output=True, text=True, check=False).stdout
    report = {"rounds": args.rounds, "machine": "%s, %d CPUs" % (platform.platform(), os.cpu_count()),
              "load_1min_median": statistics.median(r["load_1min"] for r in rounds),
              "commit": subprocess.run(["git", "describe", "--always", "--dirty"], cwd=str(ROOT), capture_output=True, text=True,
                                       check=False).stdout.strip(),
              "requirements": REQUIREMENTS.read_text(encoding="utf-8").split("\n"), "kubernetes_core": " ".join(versions.split()[-2:]),
              "summary": summary, "per_round": rounds, "requests": requests}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "stack_apply.json").write_text(json.dumps(report, indent=1), encoding="utf-8")

    print("Medians of %d rounds, %d objects (%s), median 1-minute load average %.1f on %d CPUs:\n" % (
        args.rounds, base["objects"], report["kubernetes_core"], report["load_1min_median"], os.cpu_count()))
    print("| side | first apply (s) | ratio | recap changed | no-op re-run (s) | ratio | recap changed | new resourceVersions |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in summary:
        print("| %s | %.2f | %.2f | %s | %.2f | %.2f | %s | %d |" % (
            row["side"], row["first_s"], row["first_ratio"], "/".join(map(str, row["first_changed"])), row["noop_s"],
            row["noop_ratio"], "/".join(map(str, row["noop_changed"])), row["noop_new_resource_versions"]))
    if requests:
        print("\nHTTP requests to the API server (one untimed round through the counting proxy):\n")
        print("| side | run | discovery GETs | reads | writes | dry-run writes |")
        print("|---|---|---:|---:|---:|---:|")
        for row in requests:
            print("| %s | %s | %d | %d | %d | %d |" % (
                row["side"], row["run"], row["discovery"], row["reads"], row["writes"], row["dry_run_writes"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
