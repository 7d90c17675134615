"""The run's decisions that need no API server: when Routes are written, when PEM files are read, what a
self-signed run keeps (a stand-in client answers discovery and the stored Secret)."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sError
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.ingress import certificates, deploy

BASE = {"name": "resnet", "namespace": "models", "runtime": "triton", "hosts": ["resnet.example.com"]}


class FakeClient:
    def __init__(self, served=(), stored=None):
        self._served = set(served)
        self.stored = stored

    def served(self, api_version, kind):
        return (api_version, kind) in self._served

    def get(self, api_version, kind, name, namespace=None):
        return self.stored


def spec(**extra):
    return deploy.plan(dict(BASE, **extra))


ROUTE = ("route.openshift.io/v1", "Route")


@pytest.mark.parametrize("options, served, routes", [
    ({"ingress": {"class_name": "nginx"}}, [ROUTE], False),  # OpenShift makes Routes from the Ingress itself
    ({"gateway": {"name": "gw"}}, [ROUTE], True),
    ({"gateway": {"name": "gw"}}, [], False),
    ({"gateway": {"name": "gw"}, "openshift_route": "never"}, [ROUTE], False),
    ({"ingress": {"class_name": "nginx"}, "openshift_route": "always"}, [ROUTE], True),
])
def test_when_routes_are_written(options, served, routes):
    assert deploy._want_routes(FakeClient(served), spec(**options)) is routes


def test_always_fails_where_routes_are_not_served():
    with pytest.raises(K8sError, match=r"^openshift_route: the cluster does not serve route.openshift.io/v1 Route"):
        deploy._want_routes(FakeClient(), spec(gateway={"name": "gw"}, openshift_route="always"))


def test_pem_files_are_read_for_present_only():
    tls = {"mode": "secret", "cert_file": "/nonexistent/tls.crt", "key_file": "/nonexistent/tls.key"}
    with pytest.raises(InputError, match=r"^tls.cert_file: /nonexistent/tls.crt cannot be read"):
        spec(ingress={"class_name": "nginx"}, tls=tls)
    assert spec(ingress={"class_name": "nginx"}, tls=tls, state="absent")["tls"]["mode"] == "secret"


def _secret(cert_pem, key_pem):
    return {"data": {"tls.crt": base64.b64encode(cert_pem).decode(), "tls.key": base64.b64encode(key_pem).decode()}}


def test_a_stored_self_signed_certificate_is_kept_while_it_serves():
    cert_pem, key_pem, description = certificates.self_signed(BASE["hosts"], 365)
    s = spec(ingress={"class_name": "nginx"}, tls={"mode": "self_signed"})
    objects, summary = deploy._tls_objects(FakeClient(stored=_secret(cert_pem, key_pem)), s, warn=pytest.fail)
    assert summary["generated"] is False and summary["certificate"]["serial"] == description["serial"]
    assert objects[0]["data"] == _secret(cert_pem, key_pem)["data"]


def test_a_stored_certificate_missing_a_host_is_replaced():
    cert_pem, key_pem, description = certificates.self_signed(["old.example.com"], 365)
    warnings = []
    s = spec(ingress={"class_name": "nginx"}, tls={"mode": "self_signed"})
    objects, summary = deploy._tls_objects(FakeClient(stored=_secret(cert_pem, key_pem)), s, warn=warnings.append)
    assert summary["generated"] is True and summary["certificate"]["serial"] != description["serial"]
    assert summary["certificate"]["dns_names"] == BASE["hosts"]
    assert objects[0]["data"]["tls.crt"] != _secret(cert_pem, key_pem)["data"]["tls.crt"]
    assert len(warnings) == 1 and "self-signed" in warnings[0]
