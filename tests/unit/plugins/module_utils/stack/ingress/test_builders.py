"""The traffic and TLS objects built from a spec: what each carries, per runtime and option."""

from __future__ import annotations

import base64

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import tls, traffic
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.ingress import deploy
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.ingress import spec as ingress_spec

BASE = {"name": "resnet", "namespace": "models", "runtime": "triton", "hosts": ["resnet.example.com", "*.resnet.example.com"]}


def spec(**extra):
    return ingress_spec.validate(dict(BASE, **extra))


def test_nginx_http_and_grpc_ingresses():
    http, grpc = deploy.traffic_objects(spec(ingress={"class_name": "nginx"}, tls={"mode": "self_signed"}), routes=False)
    assert http["metadata"]["name"] == "resnet" and grpc["metadata"]["name"] == "resnet-grpc"
    assert http["spec"]["ingressClassName"] == "nginx"
    assert "kubernetes.io/ingress.class" not in http["metadata"]["annotations"]
    assert http["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/proxy-body-size": "64m",
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "300",
        "nginx.ingress.kubernetes.io/proxy-send-timeout": "300",
        "nginx.ingress.kubernetes.io/ssl-redirect": "true",
    }
    assert grpc["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    assert "nginx.ingress.kubernetes.io/backend-protocol" not in http["metadata"]["annotations"]
    assert [r["host"] for r in http["spec"]["rules"]] == BASE["hosts"]
    assert http["spec"]["rules"][0]["http"]["paths"] == [
        {"path": "/v2/models", "pathType": "Prefix", "backend": {"service": {"name": "resnet", "port": {"number": 8000}}}}]
    assert grpc["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/inference.GRPCInferenceService"
    assert grpc["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] == {"number": 8001}
    assert http["spec"]["tls"] == [{"hosts": BASE["hosts"], "secretName": "resnet-tls"}]


def test_other_classes_get_only_the_users_annotations():
    (http,) = deploy.traffic_objects(spec(protocols=["http"], ingress={"class_name": "traefik", "annotations": {"a.example.com/x": "1"}}), routes=False)
    assert http["metadata"]["annotations"] == {"a.example.com/x": "1"}
    assert "tls" not in http["spec"]


def test_user_annotations_come_after_the_modules_own():
    (http,) = deploy.traffic_objects(spec(protocols=["http"], ingress={
        "class_name": "nginx", "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "1g"}}), routes=False)
    # the module's annotations are written over the user's: the user sets the option instead
    assert http["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "64m"


def test_no_ssl_redirect_without_tls_and_force_when_asked():
    (http,) = deploy.traffic_objects(spec(protocols=["http"], ingress={"class_name": "nginx", "force_ssl_redirect": True}), routes=False)
    annotations = http["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/ssl-redirect"] == "false"
    assert annotations["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"


def test_gateway_routes():
    http_route, grpc_route = deploy.traffic_objects(spec(gateway={"name": "gw", "namespace": "gateways", "section_name": "https"}), routes=False)
    parent = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw", "namespace": "gateways", "sectionName": "https"}
    assert http_route["kind"] == "HTTPRoute" and http_route["spec"]["parentRefs"] == [parent]
    assert http_route["spec"]["hostnames"] == BASE["hosts"]
    assert http_route["spec"]["rules"] == [{"matches": [{"path": {"type": "PathPrefix", "value": "/v2/models"}}],
                                            "backendRefs": [{"group": "", "kind": "Service", "name": "resnet", "port": 8000, "weight": 1}]}]
    assert grpc_route["kind"] == "GRPCRoute"
    assert grpc_route["spec"]["rules"][0]["matches"] == [{"method": {"type": "Exact", "service": "inference.GRPCInferenceService"}}]
    assert grpc_route["spec"]["rules"][0]["backendRefs"][0]["port"] == 8001


def test_kserve_goes_to_the_predictor_service_on_port_80():
    (http,) = deploy.traffic_objects(spec(runtime="kserve", ingress={"class_name": "nginx"}), routes=False)
    paths = http["spec"]["rules"][0]["http"]["paths"]
    assert [p["path"] for p in paths] == ["/v1/models", "/v2/models"]
    assert {p["backend"]["service"]["name"] for p in paths} == {"resnet-predictor"}
    assert {p["backend"]["service"]["port"]["number"] for p in paths} == {80}


def test_openshift_routes_one_per_host_and_path_with_edge_tls_by_reference():
    routes = traffic.openshift_routes(spec(hosts=["a.example.com", "b.example.com"], runtime="kserve", tls={"mode": "self_signed"}))
    assert [(r["metadata"]["name"], r["spec"]["host"], r["spec"]["path"]) for r in routes] == [
        ("resnet-0", "a.example.com", "/v1/models"), ("resnet-1", "a.example.com", "/v2/models"),
        ("resnet-2", "b.example.com", "/v1/models"), ("resnet-3", "b.example.com", "/v2/models")]
    assert routes[0]["spec"]["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect",
                                        "externalCertificate": {"name": "resnet-tls"}}
    assert "certificate" not in routes[0]["spec"]["tls"] and "key" not in routes[0]["spec"]["tls"]


def test_wildcard_hosts_are_refused_for_routes():
    import pytest
    from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
    with pytest.raises(InputError, match=r"^hosts: \*.resnet.example.com is a wildcard"):
        deploy.traffic_objects(spec(), routes=True)


def test_secret_and_certificate():
    s = spec(tls={"mode": "cert_manager", "issuer": {"name": "le", "kind": "ClusterIssuer"}})
    secret = tls.secret(s, b"CERT", b"KEY", "files")
    assert secret["type"] == "kubernetes.io/tls" and secret["metadata"]["name"] == "resnet-tls"
    assert base64.b64decode(secret["data"]["tls.key"]) == b"KEY"
    assert tls.stored_certificate(secret) == b"CERT"
    certificate = tls.certificate(s)
    assert certificate["spec"] == {
        "secretName": "resnet-tls", "dnsNames": BASE["hosts"], "commonName": "resnet.example.com",
        "issuerRef": {"name": "le", "kind": "ClusterIssuer", "group": "cert-manager.io"}, "renewBefore": "720h",
        "privateKey": {"rotationPolicy": "Always"}, "usages": ["digital signature", "key encipherment", "server auth"],
    }
    for obj in (secret, certificate):
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == "resnet"
