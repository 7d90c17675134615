"""inference_access against the real control plane: the API server stores every object whole, the authorizer
(SubjectAccessReview) grants the account exactly the rules and nothing more, RBAC's escalation prevention is
reported with its fix, and the NetworkPolicy's podSelector picks exactly the stack's pods.

No network plugin here enforces NetworkPolicy (kwok nodes; the real node's bridge plugin does not): these tests
prove what the API server accepts and which pods the policy selects, not which packets pass."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from k8s_helpers import assert_contains, load_rendered, run_module, wait_until

pytestmark = pytest.mark.integration

STACK_SELECTOR = "app.kubernetes.io/instance=%s,app.kubernetes.io/component=model-server"
RULES = [{"api_groups": [""], "resources": ["configmaps"], "verbs": ["get"], "resource_names": ["routing"]}]
ACCESS = dict(name="densenet", runtime="torchserve", service_account="densenet-sa",
              rbac={"presets": ["read_pods_and_services"], "rules": RULES},
              network_policy={"ingress_namespaces": ["ingress-nginx", "gateway-system"],
                              "egress": [{"cidr": "10.96.0.0/12", "exclude": ["10.96.0.0/16"], "ports": [9000]}]})
REFS = [("v1", "ServiceAccount", "densenet-sa"), ("rbac.authorization.k8s.io/v1", "Role", "densenet"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding", "densenet"), ("networking.k8s.io/v1", "NetworkPolicy", "densenet")]


def access(kubeconfig, namespace, check_mode=False, **args):
    return run_module("inference_access", dict(kubeconfig=kubeconfig, namespace=namespace, _ansible_diff=True, **args),
                      check_mode=check_mode)


def stored(k8s, namespace):
    return {kind: k8s.get(api_version, kind, name, namespace) for api_version, kind, name in REFS}


def versions(k8s, namespace):
    return {kind: obj and obj["metadata"]["resourceVersion"] for kind, obj in stored(k8s, namespace).items()}


def can(k8s, namespace, account, verb, resource, where=None, name=None):
    """The API server's authorizer asked whether the account may do verb on resource (SubjectAccessReview, as admin)."""
    attributes = {"namespace": where or namespace, "verb": verb, "resource": resource}
    if name:
        attributes["name"] = name
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": "system:serviceaccount:%s:%s" % (namespace, account), "resourceAttributes": attributes}}
    return k8s.resource("authorization.k8s.io/v1", "SubjectAccessReview").create(body=review).to_dict()["status"]["allowed"]


@pytest.fixture
def restricted(k8s, namespace):
    """The test namespace labelled as inference_stack labels serving namespaces: Pod Security restricted, enforced."""
    k8s.resource("v1", "Namespace").patch(name=namespace, body={"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    return namespace


def test_objects_stored_whole_idempotent_and_check_mode_writes_nothing(kubeconfig, k8s, restricted, tmp_path):
    namespace = restricted
    planned = access(kubeconfig, namespace, check_mode=True, **ACCESS)
    assert planned["rc"] == 0, planned.get("msg")
    assert planned["changed"] is True and all(obj is None for obj in stored(k8s, namespace).values())

    applied = access(kubeconfig, namespace, **ACCESS)
    assert applied["rc"] == 0, applied.get("msg")
    assert [o["ref"].split()[0] for o in applied["objects"]] == ["ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"]
    rendered = run_module("inference_access", dict(ACCESS, namespace=namespace, mode="render", render_dir=str(tmp_path)))
    got = stored(k8s, namespace)
    for sent in load_rendered(rendered["rendered_files"]):
        assert_contains(got[sent["kind"]], sent, sent["kind"])
    assert got["ServiceAccount"]["automountServiceAccountToken"] is False
    before = versions(k8s, namespace)

    for check_mode in (True, False):
        again = access(kubeconfig, namespace, check_mode=check_mode, **ACCESS)
        assert again["rc"] == 0 and again["changed"] is False, again
    assert versions(k8s, namespace) == before


def test_account_can_do_exactly_what_was_granted(kubeconfig, k8s, namespace):
    assert access(kubeconfig, namespace, **ACCESS)["rc"] == 0
    account = ACCESS["service_account"]
    for verb in ("get", "list", "watch"):
        for resource in ("pods", "services"):
            assert can(k8s, namespace, account, verb, resource), (verb, resource)
    assert can(k8s, namespace, account, "get", "configmaps", name="routing")
    denied = [
        ("delete", "pods", None, None),           # a verb not granted
        ("create", "services", None, None),
        ("get", "secrets", None, None),           # a resource not granted
        ("get", "configmaps", None, "other"),     # a name outside resource_names
        ("list", "configmaps", None, None),
        ("get", "pods", "default", None),         # another namespace
        ("list", "services", "kube-system", None),
    ]
    for verb, resource, where, name in denied:
        assert not can(k8s, namespace, account, verb, resource, where=where, name=name), (verb, resource, where, name)


def test_policy_selects_exactly_the_stacks_pods_and_admission_still_passes(kubeconfig, k8s, restricted):
    namespace = restricted
    stack = run_module("inference_stack", dict(
        kubeconfig=kubeconfig, namespace=namespace, name="densenet", runtime="torchserve", replicas=2,
        model={"name": "densenet", "storage_uri": "https://models.example.com/densenet161.mar"}, wait=True, wait_timeout=90))
    assert stack["rc"] == 0, stack.get("msg")
    # a pod of another instance, with the same component label: the policy must not select it
    labels = {"app.kubernetes.io/instance": "other", "app.kubernetes.io/component": "model-server"}
    restricted_container = {"name": "c", "image": "registry.invalid/x:1.0", "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
    pod_security = {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
    decoy = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "decoy", "namespace": namespace, "labels": labels},
             "spec": {"automountServiceAccountToken": False, "securityContext": pod_security, "containers": [restricted_container]}}
    k8s.resource("v1", "Pod").create(namespace=namespace, body=decoy)
    result = access(kubeconfig, namespace, **ACCESS)
    assert result["rc"] == 0, result.get("msg")

    policy = k8s.get("networking.k8s.io/v1", "NetworkPolicy", "densenet", namespace)
    selector = ",".join("%s=%s" % item for item in sorted(policy["spec"]["podSelector"]["matchLabels"].items()))
    selected = {p["metadata"]["name"] for p in k8s.list("v1", "Pod", namespace=namespace, label_selector=selector)}
    stack_pods = {p["metadata"]["name"] for p in k8s.list("v1", "Pod", namespace=namespace, label_selector=STACK_SELECTOR % "densenet")}
    assert len(stack_pods) == 2 and selected == stack_pods
    # the named ports the policy opens are the serving container's ports
    container_ports = {p["name"] for p in k8s.list("v1", "Pod", namespace=namespace, label_selector=selector)[0]["spec"]["containers"][0]["ports"]}
    opened = {port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]}
    assert opened == {"http", "grpc", "metrics"} and opened <= container_ports

    # the namespace is still enforced restricted, and a new pod of the stack is still admitted after the policy
    assert k8s.get("v1", "Namespace", namespace)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    victim = sorted(stack_pods)[0]
    k8s.delete("v1", "Pod", victim, namespace=namespace)
    wait_until(lambda: len([p for p in k8s.list("v1", "Pod", namespace=namespace, label_selector=STACK_SELECTOR % "densenet")
                            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]) == 2,
               60, "the replacement pod of the stack to run")


def test_kserve_policy_is_accepted_with_kserves_labels(kubeconfig, k8s, namespace):
    result = access(kubeconfig, namespace, name="iris", runtime="kserve")
    assert result["rc"] == 0, result.get("msg")
    policy = k8s.get("networking.k8s.io/v1", "NetworkPolicy", "iris", namespace)["spec"]
    assert policy["podSelector"]["matchLabels"] == {"serving.kserve.io/inferenceservice": "iris", "component": "predictor"}
    assert [p["port"] for p in policy["ingress"][0]["ports"]] == [8080, 8081]


def test_options_no_longer_asked_for_are_removed_and_absent_removes_the_rest(kubeconfig, k8s, namespace):
    assert access(kubeconfig, namespace, **ACCESS)["rc"] == 0
    fewer = {**ACCESS, "rbac": None, "network_policy": {"enabled": False}}
    result = access(kubeconfig, namespace, **fewer)
    assert result["rc"] == 0 and result["changed"] is True
    assert sorted(result["removed"]) == sorted("%s %s/densenet" % (kind, namespace) for kind in ("Role", "RoleBinding", "NetworkPolicy"))
    got = stored(k8s, namespace)
    assert got["ServiceAccount"] is not None and got["Role"] is got["RoleBinding"] is got["NetworkPolicy"] is None
    assert access(kubeconfig, namespace, **fewer)["changed"] is False

    assert access(kubeconfig, namespace, **ACCESS)["rc"] == 0
    planned = access(kubeconfig, namespace, check_mode=True, state="absent", **ACCESS)
    assert planned["changed"] is True and all(obj is not None for obj in stored(k8s, namespace).values())
    removed = access(kubeconfig, namespace, state="absent", **ACCESS)
    assert removed["rc"] == 0 and removed["changed"] is True
    assert all(obj is None for obj in stored(k8s, namespace).values())
    assert access(kubeconfig, namespace, state="absent", **ACCESS)["changed"] is False


def test_bad_input_writes_nothing(kubeconfig, k8s, namespace):
    wild = {**ACCESS, "rbac": {"rules": [{"api_groups": [""], "resources": ["pods"], "verbs": ["*"]}]}}
    result = access(kubeconfig, namespace, **wild)
    assert result["rc"] == 1 and result["msg"].startswith("rbac.rules[0].verbs[0]: '*' is a wildcard")
    assert "allow_wildcards" in result["msg"]
    assert all(obj is None for obj in stored(k8s, namespace).values())


def _deployer_token(kubeconfig, k8s, namespace):
    """A token of a ServiceAccount that may write the module's kinds in namespace but holds nothing on pods."""
    k8s.resource("v1", "ServiceAccount").create(namespace=namespace, body={"metadata": {"name": "deployer"}})
    rbac = "rbac.authorization.k8s.io/v1"
    k8s.resource(rbac, "Role").create(namespace=namespace, body={"metadata": {"name": "deployer"}, "rules": [
        {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "create", "patch", "delete"]},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["get", "create", "patch", "delete"]},
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["get", "create", "patch", "delete"]}]})
    k8s.resource(rbac, "RoleBinding").create(namespace=namespace, body={
        "metadata": {"name": "deployer"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
        "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": namespace}]})
    api = k8s_config.new_client_from_config(config_file=kubeconfig)
    request = k8s_client.CoreV1Api(api).create_namespaced_service_account_token(
        "deployer", namespace, {"spec": {"expirationSeconds": 600}})
    return api.configuration, request.status.token


def test_escalation_refusal_names_escalate_and_bind(kubeconfig, k8s, namespace):
    configuration, token = _deployer_token(kubeconfig, k8s, namespace)
    auth = dict(host=configuration.host, api_key=token, ca_cert=configuration.ssl_ca_cert)
    args = dict(name="densenet", runtime="torchserve", rbac={"presets": ["read_pods_and_services"]}, namespace=namespace, **auth)
    result = run_module("inference_access", args)
    assert result["rc"] == 1
    assert "escalation prevention" in result["msg"] and "escalate on roles and bind on roles" in result["msg"], result["msg"]
    assert token not in str(result)
    assert k8s.get("rbac.authorization.k8s.io/v1", "Role", "densenet", namespace) is None
    # without rules the same deployer writes the account and the policy
    plain = run_module("inference_access", dict(args, rbac=None))
    assert plain["rc"] == 0, plain.get("msg")
