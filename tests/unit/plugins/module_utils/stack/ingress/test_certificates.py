"""The PEM checks and the self-signed certificate: every refusal, with certificates made here."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError, MissingLibraryError
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.ingress import certificates

from .pki import NOW, Chain, cert, key, key_pem, pem

HOSTS = ("models.example.com",)


def check(cert_pem, private_pem, hosts=HOSTS, warning_days=30, now=NOW):
    return certificates.check_pem(cert_pem, private_pem, hosts, warning_days, now=now)


def test_a_good_chain_is_described_without_pem():
    chain = Chain()
    description, warnings = check(pem(chain.server, chain.intermediate), key_pem(chain.server_key))
    assert warnings == []
    assert description["serial"] == format(chain.server.serial_number, "x")
    assert description["dns_names"] == list(HOSTS)
    assert "BEGIN" not in repr(description)


def test_a_key_that_does_not_match_is_refused():
    chain = Chain()
    with pytest.raises(InputError, match=r"^tls.key_file: the private key does not match the certificate CN=models.example.com\. Give the key"):
        check(pem(chain.server, chain.intermediate), key_pem(key()))


def test_an_expired_certificate_is_refused():
    chain = Chain(days=(-100, -1))
    with pytest.raises(InputError, match=r"^tls.cert_file: certificate 1 \(CN=models.example.com\) expired on 2026-05-31.*Renew it"):
        check(pem(chain.server, chain.intermediate), key_pem(chain.server_key))


def test_an_expired_intermediate_is_refused():
    chain = Chain(intermediate_days=(-100, -2))
    with pytest.raises(InputError, match=r"^tls.cert_file: certificate 2 \(CN=Test Intermediate\) expired"):
        check(pem(chain.server, chain.intermediate), key_pem(chain.server_key))


def test_a_certificate_not_yet_valid_is_refused():
    chain = Chain(days=(2, 90))
    with pytest.raises(InputError, match=r"^tls.cert_file: certificate 1 .* is not valid before"):
        check(pem(chain.server, chain.intermediate), key_pem(chain.server_key))


def test_a_chain_out_of_order_is_refused():
    chain = Chain()
    with pytest.raises(InputError, match=r"^tls.cert_file: certificate 1 \(CN=models.example.com\) is not signed by certificate 2 "
                                         r"\(CN=Test Root\): the chain is out of order\. List the server certificate first"):
        check(pem(chain.server, chain.root, chain.intermediate), key_pem(chain.server_key))


def test_an_intermediate_that_did_not_sign_the_server_certificate_is_refused():
    chain, other = Chain(), Chain()
    with pytest.raises(InputError, match=r"certificate 1 \(CN=models.example.com\) is not signed by certificate 2"):
        check(pem(chain.server, other.intermediate), key_pem(chain.server_key))


def test_the_server_certificate_must_come_first():
    chain = Chain()
    with pytest.raises(InputError, match=r"^tls.cert_file: the key matches certificate 2 .*, not the first one\. Put the server certificate first"):
        check(pem(chain.intermediate, chain.server), key_pem(chain.server_key))


@pytest.mark.parametrize("names, hosts, uncovered", [
    (["other.example.com"], ["models.example.com"], "models.example.com"),
    (["*.example.com"], ["a.b.example.com"], "a.b.example.com"),  # a wildcard is one label
    (["*.example.com"], ["example.com"], "example.com"),
    (["models.example.com"], ["models.example.com", "*.example.com"], "*.example.com"),
    ([], ["models.example.com"], "models.example.com"),
])
def test_sans_that_do_not_cover_a_host_are_refused(names, hosts, uncovered):
    chain = Chain(names=tuple(names))
    with pytest.raises(InputError, match=r"^tls.cert_file: the certificate's DNS names .* do not cover %s\. Issue a certificate"
                       % uncovered.replace("*", r"\*").replace(".", r"\.")):
        check(pem(chain.server, chain.intermediate), key_pem(chain.server_key), hosts=hosts)


@pytest.mark.parametrize("names, host", [
    (["*.example.com"], "models.example.com"),
    (["*.Example.com"], "models.example.com"),
    (["*.example.com"], "*.example.com"),
    (["models.example.com."], "models.example.com"),
])
def test_covered_hosts(names, host):
    assert certificates.host_covered(host, names)


def test_a_certificate_close_to_expiry_is_accepted_with_a_warning():
    chain = Chain(days=(-80, 10))
    _description, warnings = check(pem(chain.server, chain.intermediate), key_pem(chain.server_key))
    assert len(warnings) == 1 and "expires on" in warnings[0] and "in 10 days" in warnings[0]


def test_an_encrypted_key_is_refused_without_echoing_it():
    chain = Chain()
    encrypted = key_pem(chain.server_key, password=b"pw")
    with pytest.raises(InputError, match=r"^tls.key_file: the private key is encrypted") as raised:
        check(pem(chain.server), encrypted)
    assert "BEGIN" not in raised.value.msg


def test_garbage_is_refused_without_echoing_it():
    with pytest.raises(InputError, match=r"^tls.cert_file: the file holds no PEM certificate"):
        check(b"not a certificate", b"x")
    chain = Chain()
    body = b"-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n-----END PRIVATE KEY-----\n"
    with pytest.raises(InputError, match=r"^tls.key_file: the file holds no PEM private key") as raised:
        check(pem(chain.server), body)
    assert "SECRETSECRET" not in raised.value.msg


def test_self_signed_covers_the_hosts_and_is_reused_until_near_expiry():
    hosts = ["models.example.com", "*.models.example.com"]
    cert_pem, private_pem, description = certificates.self_signed(hosts, 365, now=NOW)
    assert description["dns_names"] == hosts
    assert b"PRIVATE KEY" in private_pem
    check(cert_pem, private_pem, hosts=hosts)  # its own checks accept it
    assert certificates.reusable(cert_pem, hosts, 30, now=NOW)["serial"] == description["serial"]
    assert certificates.reusable(cert_pem, hosts, 30, now=NOW + datetime.timedelta(days=340)) is None
    assert certificates.reusable(cert_pem, hosts + ["new.example.com"], 30, now=NOW) is None
    assert certificates.reusable(b"", hosts, 30, now=NOW) is None
    assert certificates.reusable(b"garbage", hosts, 30, now=NOW) is None


def test_without_cryptography_the_error_names_the_package(monkeypatch):
    monkeypatch.setattr(certificates, "HAS_CRYPTOGRAPHY", False)
    with pytest.raises(MissingLibraryError, match="cryptography"):
        certificates.self_signed(HOSTS, 1)


def test_self_signed_certificate_is_not_a_ca():
    from cryptography import x509
    cert_pem, _key, _description = certificates.self_signed(HOSTS, 30)
    parsed = x509.load_pem_x509_certificate(cert_pem)
    assert parsed.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert  # the test helper module is importable alongside
