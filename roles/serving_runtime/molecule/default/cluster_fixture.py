#!/usr/bin/env python
"""What the serving_runtime scenario needs around the role, read and written with the kubernetes client.

    cluster_fixture.py ensure  --kubeconfig K --namespace NS ... [--models-pvc NS]
        create the scenario's namespaces (Pod Security `restricted` enforced) and, in one of them, a
        PersistentVolumeClaim `models` bound to a hostPath PersistentVolume of its own (kwok mounts
        nothing, but a pod whose claim is missing or unbound is never scheduled); prints what it created
    cluster_fixture.py get     --kubeconfig K API_VERSION KIND NAMESPACE NAME
        the object as JSON, `null` when it does not exist
    cluster_fixture.py dump    --kubeconfig K --namespace NS ...
        pods (phase, node, reasons) and events of the namespaces, for a failed verify
    cluster_fixture.py remove  --kubeconfig K --namespace NS ... [--timeout S]
        delete the namespaces and the models PersistentVolumes, and wait until they are gone: a
        namespace still terminating would make the next converge fail

Test scaffolding for Molecule, not part of the collection's content.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from kubernetes import config, dynamic
from kubernetes.client import api_client
from kubernetes.dynamic.exceptions import NotFoundError

PV_PREFIX = "molecule-serving-models-"


def client(kubeconfig):
    return dynamic.DynamicClient(api_client.ApiClient(configuration=config.load_kube_config(config_file=kubeconfig) or None))


def get(api, api_version, kind, name, namespace=None):
    try:
        return api.resources.get(api_version=api_version, kind=kind).get(name=name, namespace=namespace).to_dict()
    except NotFoundError:
        return None


def ensure(api, namespaces, models_pvc_namespace):
    created = []
    for namespace in namespaces:
        if get(api, "v1", "Namespace", namespace) is None:
            api.resources.get(api_version="v1", kind="Namespace").create(body={
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": namespace, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
            created.append("Namespace/%s" % namespace)
    if models_pvc_namespace:
        pv_name = PV_PREFIX + models_pvc_namespace
        if get(api, "v1", "PersistentVolume", pv_name) is None:
            api.resources.get(api_version="v1", kind="PersistentVolume").create(body={
                "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv_name},
                "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadOnlyMany"], "storageClassName": "",
                         "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": "/srv/models"},
                         "claimRef": {"namespace": models_pvc_namespace, "name": "models"}}})
            created.append("PersistentVolume/%s" % pv_name)
        if get(api, "v1", "PersistentVolumeClaim", "models", models_pvc_namespace) is None:
            api.resources.get(api_version="v1", kind="PersistentVolumeClaim").create(namespace=models_pvc_namespace, body={
                "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "models"},
                "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "", "volumeName": pv_name,
                         "resources": {"requests": {"storage": "1Gi"}}}})
            created.append("PersistentVolumeClaim/%s/models" % models_pvc_namespace)
        wait(lambda: (get(api, "v1", "PersistentVolumeClaim", "models", models_pvc_namespace) or {})
             .get("status", {}).get("phase") == "Bound", 60, "PersistentVolumeClaim models to be Bound")
    for line in created:
        print("created: %s" % line)


def dump(api, namespaces):
    for namespace in namespaces:
        print("== namespace %s" % namespace)
        for pod in api.resources.get(api_version="v1", kind="Pod").get(namespace=namespace).to_dict()["items"]:
            status = pod.get("status") or {}
            reasons = [c.get("message") or c.get("reason") for c in status.get("conditions") or [] if c.get("status") != "True"]
            print("pod %s phase=%s node=%s %s" % (pod["metadata"]["name"], status.get("phase"),
                                                  pod["spec"].get("nodeName"), "; ".join(r for r in reasons if r)))
        events = api.resources.get(api_version="v1", kind="Event").get(namespace=namespace).to_dict()["items"]
        for event in sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or ""):
            involved = event.get("involvedObject") or {}
            print("event %s %s/%s %s: %s" % (event.get("type"), involved.get("kind"), involved.get("name"),
                                             event.get("reason"), event.get("message")))


def remove(api, namespaces, timeout):
    names = [("v1", "Namespace", n, None) for n in namespaces] + [("v1", "PersistentVolume", PV_PREFIX + n, None) for n in namespaces]
    for api_version, kind, name, namespace in names:
        try:
            api.resources.get(api_version=api_version, kind=kind).delete(name=name, namespace=namespace)
            print("deleted: %s/%s" % (kind, name))
        except NotFoundError:
            pass
    wait(lambda: all(get(api, v, k, n) is None for v, k, n, _ns in names), timeout, "namespaces %s to be gone" % ", ".join(namespaces))


def wait(done, timeout, what):
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("command", choices=["ensure", "get", "dump", "remove"])
    parser.add_argument("ref", nargs="*", help="for get: API_VERSION KIND NAMESPACE NAME")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", action="append", default=[])
    parser.add_argument("--models-pvc", default="")
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_intermixed_args(argv)
    api = client(args.kubeconfig)
    if args.command == "ensure":
        ensure(api, args.namespace, args.models_pvc)
    elif args.command == "get":
        api_version, kind, namespace, name = args.ref
        obj = get(api, api_version, kind, name, namespace)
        if obj and kind == "Secret":
            # what verify reads goes into Molecule's output: a Secret's keys and sizes, never its values
            obj["data"] = {key: "<%d base64 characters>" % len(value) for key, value in (obj.get("data") or {}).items()}
        json.dump(obj, sys.stdout)
    elif args.command == "dump":
        dump(api, args.namespace)
    else:
        remove(api, args.namespace, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
