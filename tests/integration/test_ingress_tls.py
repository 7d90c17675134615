"""inference_ingress against the real API server with the upstream CRDs (Gateway API v1.6.3 standard,
cert-manager): what the server stored is read back (nothing pruned), the four idempotence steps, the
self-signed certificate kept (same serial read from the Secret), bad input writes nothing, and a playbook
run at -vvv with PEM files prints no line of the key."""

from __future__ import annotations

import base64
import datetime
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from k8s_helpers import run_module
from test_playbooks import ansible_playbook

pytestmark = pytest.mark.integration

HOSTS = ["resnet.example.com", "*.resnet.example.com"]
GATEWAY_API = "gateway.networking.k8s.io/v1"


def ingress_module(kubeconfig, check_mode=False, **args):
    return run_module("inference_ingress", dict(kubeconfig=kubeconfig, _ansible_diff=True, **args), check_mode=check_mode)


def stored_serial(k8s, namespace, name="resnet-tls"):
    secret = k8s.get("v1", "Secret", name, namespace)
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    return format(cert.serial_number, "x"), secret


def make_pem_files(directory, hosts, days=90, wrong_key=False):
    """A CA and a server certificate for hosts, written as PEM files: (cert path, key path, key PEM)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Integration CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=365)).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
              .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(days=2)).not_valid_after(now + datetime.timedelta(days=days))
              .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1()) if wrong_key else server_key
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(server.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key_pem)
    return cert_path, key_path, key_pem


def key_body_lines(key_pem):
    """The base64 lines of a PEM key, and a stretch of the whole PEM in base64 (as a Secret's data carries it) from
    past the BEGIN line and the key type's fixed prefix, where every key differs."""
    lines = [line for line in key_pem.decode().splitlines() if line and not line.startswith("-----")]
    return lines + [base64.b64encode(key_pem).decode()[112:168]]


def leaked(output, key_pem):
    return [line for line in key_body_lines(key_pem) if line in output]


def test_self_signed_ingress_and_gateway_routes(kubeconfig, k8s, namespace, upstream_crds):
    args = dict(name="resnet", namespace=namespace, runtime="triton", hosts=HOSTS, ingress={"class_name": "nginx"},
                gateway={"name": "inference", "section_name": "https"}, tls={"mode": "self_signed"})

    checked = ingress_module(kubeconfig, check_mode=True, **args)
    assert checked["rc"] == 0, checked.get("msg")
    assert checked["changed"] is True
    refs = ["Secret %s/resnet-tls" % namespace, "Ingress %s/resnet" % namespace, "Ingress %s/resnet-grpc" % namespace,
            "HTTPRoute %s/resnet" % namespace, "GRPCRoute %s/resnet" % namespace]
    assert [o["ref"] for o in checked["objects"]] == refs
    for api_version, kind, name in (("v1", "Secret", "resnet-tls"), ("networking.k8s.io/v1", "Ingress", "resnet"),
                                    (GATEWAY_API, "HTTPRoute", "resnet"), (GATEWAY_API, "GRPCRoute", "resnet")):
        assert k8s.get(api_version, kind, name, namespace) is None, "check mode wrote %s" % kind

    applied = ingress_module(kubeconfig, **args)
    assert applied["rc"] == 0, applied.get("msg")
    assert applied["changed"] is True and applied["tls"]["generated"] is True
    serial, secret = stored_serial(k8s, namespace)
    assert applied["tls"]["certificate"]["serial"] == serial
    assert secret["type"] == "kubernetes.io/tls"
    stored_cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    assert stored_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == HOSTS
    key_pem = base64.b64decode(secret["data"]["tls.key"])
    assert leaked(repr(applied), key_pem) == [], "the result carries key material"

    http = k8s.get("networking.k8s.io/v1", "Ingress", "resnet", namespace)
    assert http["spec"]["ingressClassName"] == "nginx"
    assert http["spec"]["rules"] == [
        {"host": host, "http": {"paths": [{"path": "/v2/models", "pathType": "Prefix",
                                           "backend": {"service": {"name": "resnet", "port": {"number": 8000}}}}]}}
        for host in HOSTS]
    assert http["spec"]["tls"] == [{"hosts": HOSTS, "secretName": "resnet-tls"}]
    assert http["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "64m"
    assert http["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
    grpc = k8s.get("networking.k8s.io/v1", "Ingress", "resnet-grpc", namespace)
    assert grpc["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    assert grpc["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/inference.GRPCInferenceService"

    # the CRD schemas kept every field sent (nothing pruned)
    route = k8s.get(GATEWAY_API, "HTTPRoute", "resnet", namespace)
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "inference",
                                            "namespace": namespace, "sectionName": "https"}]
    assert route["spec"]["hostnames"] == HOSTS
    assert route["spec"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/v2/models"}}]
    assert route["spec"]["rules"][0]["backendRefs"] == [{"group": "", "kind": "Service", "name": "resnet", "port": 8000, "weight": 1}]
    grpc_route = k8s.get(GATEWAY_API, "GRPCRoute", "resnet", namespace)
    assert grpc_route["spec"]["rules"][0]["matches"] == [{"method": {"type": "Exact", "service": "inference.GRPCInferenceService"}}]
    assert grpc_route["spec"]["rules"][0]["backendRefs"][0]["port"] == 8001

    again = ingress_module(kubeconfig, **args)
    assert again["rc"] == 0, again.get("msg")
    assert again["changed"] is False, [o for o in again["objects"] if o["changed"]]
    assert again["tls"]["generated"] is False
    assert stored_serial(k8s, namespace)[0] == serial, "the self-signed certificate was made again"
    checked_again = ingress_module(kubeconfig, check_mode=True, **args)
    assert checked_again["rc"] == 0 and checked_again["changed"] is False

    # a new host the certificate does not cover: a new certificate, for every host
    grown_args = {**args, "hosts": HOSTS + ["other.example.com"]}
    grown = ingress_module(kubeconfig, **grown_args)
    assert grown["rc"] == 0 and grown["tls"]["generated"] is True
    assert stored_serial(k8s, namespace)[0] != serial

    removed = ingress_module(kubeconfig, state="absent", **args)
    assert removed["rc"] == 0, removed.get("msg")
    for api_version, kind, name in (("v1", "Secret", "resnet-tls"), ("networking.k8s.io/v1", "Ingress", "resnet"),
                                    ("networking.k8s.io/v1", "Ingress", "resnet-grpc"), (GATEWAY_API, "HTTPRoute", "resnet")):
        found = k8s.get(api_version, kind, name, namespace)
        assert found is None or found["metadata"].get("deletionTimestamp"), "%s %s left behind" % (kind, name)


def test_cert_manager_certificate_for_kserve(kubeconfig, k8s, namespace, upstream_crds):
    args = dict(name="iris", namespace=namespace, runtime="kserve", hosts=["iris.example.com"], ingress={"class_name": "traefik"},
                tls={"mode": "cert_manager", "issuer": {"name": "letsencrypt", "kind": "ClusterIssuer"}}, labels={"team": "vision"})
    applied = ingress_module(kubeconfig, **args)
    assert applied["rc"] == 0, applied.get("msg")
    certificate = k8s.get("cert-manager.io/v1", "Certificate", "iris", namespace)
    assert certificate["spec"] == {
        "secretName": "iris-tls", "dnsNames": ["iris.example.com"], "commonName": "iris.example.com",
        "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"}, "renewBefore": "720h",
        "privateKey": {"rotationPolicy": "Always"}, "usages": ["digital signature", "key encipherment", "server auth"]}
    assert certificate["metadata"]["labels"]["team"] == "vision"
    ingress = k8s.get("networking.k8s.io/v1", "Ingress", "iris", namespace)
    assert "annotations" not in ingress["metadata"], "nginx annotations on a traefik Ingress"
    backends = [p["backend"]["service"] for p in ingress["spec"]["rules"][0]["http"]["paths"]]
    assert backends == [{"name": "iris-predictor", "port": {"number": 80}}] * 2
    assert k8s.get("networking.k8s.io/v1", "Ingress", "iris-grpc", namespace) is None
    assert ingress_module(kubeconfig, **args)["changed"] is False


def test_pem_files_become_a_secret_and_bad_ones_write_nothing(kubeconfig, k8s, namespace, tmp_path):
    cert_path, key_path, key_pem = make_pem_files(tmp_path, ["models.example.com"])
    args = dict(name="bert", namespace=namespace, runtime="torchserve", hosts=["models.example.com"], ingress={"class_name": "nginx"},
                tls={"mode": "secret", "cert_file": str(cert_path), "key_file": str(key_path)})
    applied = ingress_module(kubeconfig, **args)
    assert applied["rc"] == 0, applied.get("msg")
    secret = k8s.get("v1", "Secret", "bert-tls", namespace)
    assert base64.b64decode(secret["data"]["tls.crt"]) == cert_path.read_bytes()
    assert base64.b64decode(secret["data"]["tls.key"]) == key_pem
    assert applied["tls"]["certificate"]["dns_names"] == ["models.example.com"]
    assert leaked(repr(applied), key_pem) == []
    assert ingress_module(kubeconfig, **args)["changed"] is False

    wrong_dir = tmp_path / "wrong"
    wrong_dir.mkdir()
    bad_cases = [
        (dict(tls=dict(args["tls"], key_file=str(make_pem_files(wrong_dir, ["models.example.com"], wrong_key=True)[1])),
              name="wrong-key"), "tls.key_file: the private key does not match"),
        (dict(hosts=["other.example.com"], name="wrong-san"), "tls.cert_file: the certificate's DNS names (models.example.com) do not cover"),
        (dict(ingress={"class_name": "nginx", "annotations": {"kubernetes.io/ingress.class": "nginx"}}, name="class-annotation"),
         "ingress.annotations.kubernetes.io/ingress.class:"),
        (dict(gateway={"namespace": "gateways"}, name="no-gateway-name"), "gateway.name: the Gateway the routes attach to has no name"),
        (dict(hosts=["Models_Example.com"], name="bad-host"), "hosts[0]:"),
    ]
    for extra, message in bad_cases:
        case_args = dict(args, **extra)
        failed = ingress_module(kubeconfig, **case_args)
        assert failed["rc"] == 1 and failed["msg"].startswith(message), failed.get("msg")
        assert leaked(repr(failed), key_pem) == []
        assert k8s.get("networking.k8s.io/v1", "Ingress", extra["name"], namespace) is None
        assert k8s.get("v1", "Secret", "%s-tls" % extra["name"], namespace) is None

    expired_dir = tmp_path / "expired"
    expired_dir.mkdir()
    expired_cert, expired_key, _pem = make_pem_files(expired_dir, ["models.example.com"], days=-1)
    expired_args = {**args, "name": "expired", "tls": dict(args["tls"], cert_file=str(expired_cert), key_file=str(expired_key))}
    failed = ingress_module(kubeconfig, **expired_args)
    assert failed["rc"] == 1 and re.match(r"tls.cert_file: certificate 1 \(CN=models.example.com\) expired on", failed["msg"]), failed["msg"]
    assert k8s.get("v1", "Secret", "expired-tls", namespace) is None


PLAYBOOK = """\
- name: inference_ingress with PEM files
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Apply with the certificate from files
      inferops.kubernetes.inference_ingress:
        kubeconfig: "{{{{ test_kubeconfig }}}}"
        name: leak
        namespace: {namespace}
        runtime: triton
        hosts: [models.example.com]
        ingress: {{class_name: nginx}}
        tls: {{mode: secret, cert_file: {cert}, key_file: {key}}}
      diff: true
    - name: A task that does print the key (only with leak=true), to show the search finds it
      ansible.builtin.debug:
        msg: "{{{{ lookup('ansible.builtin.file', '{key}') }}}}"
      when: leak | default(false) | bool
"""


def test_a_vvv_playbook_run_prints_no_key_material(kubeconfig, namespace, tmp_path):
    cert_path, key_path, key_pem = make_pem_files(tmp_path, ["models.example.com"])
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK.format(namespace=namespace, cert=cert_path, key=key_path))
    clean = ansible_playbook(playbook, kubeconfig, "-vvv", "-e", "test_kubeconfig=" + kubeconfig)
    output = clean.stdout + clean.stderr
    assert clean.returncode == 0, output[-4000:]
    assert "changed=1" in output
    assert leaked(output, key_pem) == []
    # the same search on a run that prints the key finds it: the check above can fail
    leaking = ansible_playbook(playbook, kubeconfig, "-vvv", "-e", "test_kubeconfig=" + kubeconfig, "-e", "leak=true")
    assert leaking.returncode == 0, (leaking.stdout + leaking.stderr)[-4000:]
    assert leaked(leaking.stdout + leaking.stderr, key_pem) != []
