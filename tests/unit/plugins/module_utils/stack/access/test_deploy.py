"""inference_access's apply, removal and escalation message, against a recording fake of the API client."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sAuthError
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.access import deploy

BASE = {"name": "bert", "namespace": "serving", "runtime": "triton", "rbac": {"presets": ["read_pods_and_services"]}}


class FakeClient:
    """Stores what is applied (with this collection as its only writer), answers get() from the store, deletes."""

    def __init__(self, refuse=None):
        self.store = {}
        self.refuse = refuse
        self.deleted = []

    def namespaced(self, api_version, kind):
        return True

    def apply(self, obj, namespace=None, field_manager=None, force_conflicts=False, dry_run=False):
        if self.refuse and obj["kind"] == self.refuse:
            raise K8sAuthError('403 Forbidden: the identity in use may not apply Role serving/bert. The API server said: roles.rbac.'
                               'authorization.k8s.io "bert" is forbidden: user "deployer" is attempting to grant RBAC '
                               'permissions not currently held: {APIGroups:[""], Resources:["pods"], Verbs:["watch"]}. '
                               'Grant that verb on that resource with RBAC, or use an identity that has it.',
                               status=403)
        stored = json.loads(json.dumps(obj))
        stored["metadata"]["managedFields"] = [{"manager": field_manager, "fieldsV1": {"f:spec": {}}}]
        if not dry_run:
            self.store[(obj["kind"], namespace, obj["metadata"]["name"])] = stored
        return stored

    def get(self, api_version, kind, name, namespace=None):
        return self.store.get((kind, namespace, name))

    def delete(self, api_version, kind, name, namespace=None, dry_run=False):
        self.deleted.append((kind, name, dry_run))
        if not dry_run:
            del self.store[(kind, namespace, name)]


def module(params, check_mode=False):
    return SimpleNamespace(params=dict(params, state=params.get("state", "present"), mode="apply", force_conflicts=False),
                           check_mode=check_mode, _diff=True, warn=lambda _msg: None)


def present(client, params, check_mode=False):
    spec, objects = deploy.plan(params)
    return deploy._present(client, module(params, check_mode), spec, objects)


def test_check_mode_then_apply_then_nothing_to_change():
    client = FakeClient()
    planned = present(client, BASE, check_mode=True)
    assert planned["changed"] is True and client.store == {}
    applied = present(client, BASE)
    assert [o["ref"] for o in applied["objects"]] == [
        "ServiceAccount serving/bert", "Role serving/bert", "RoleBinding serving/bert", "NetworkPolicy serving/bert"]
    assert present(client, BASE)["changed"] is False


def test_objects_no_longer_asked_for_are_removed():
    client = FakeClient()
    present(client, BASE)
    fewer = dict(BASE, rbac=None, network_policy={"enabled": False})
    result = present(client, fewer)
    assert result["changed"] is True
    assert sorted(result["removed"]) == ["NetworkPolicy serving/bert", "Role serving/bert", "RoleBinding serving/bert"]
    assert sorted(key[0] for key in client.store) == ["ServiceAccount"]
    assert present(client, fewer)["changed"] is False


def test_absent_removes_everything_it_wrote():
    client = FakeClient()
    present(client, BASE)
    spec, _objects = deploy.plan(BASE)
    result = deploy._absent(client, module(dict(BASE, state="absent")), spec)
    assert result["changed"] is True and client.store == {}
    assert deploy._absent(client, module(dict(BASE, state="absent")), spec)["changed"] is False


def test_escalation_refusal_names_escalate_and_bind():
    with pytest.raises(K8sAuthError) as err:
        present(FakeClient(refuse="Role"), BASE)
    assert "escalation prevention" in err.value.msg
    assert "escalate on roles and bind on roles" in err.value.msg and "serving" in err.value.msg
    # the API server's own words once, without the general 403 advice this message replaces
    assert err.value.msg.count("The API server said") == 1 and "Grant that verb" not in err.value.msg
    assert err.value.msg.endswith('Verbs:["watch"]}.')


def test_other_forbidden_errors_pass_through_unchanged():
    client = FakeClient()

    def forbidden(*_args, **_kwargs):
        raise K8sAuthError("403 Forbidden: the identity in use may not apply ServiceAccount serving/bert.", status=403)

    client.apply = forbidden
    with pytest.raises(K8sAuthError) as err:
        present(client, BASE)
    assert "escalation" not in err.value.msg
