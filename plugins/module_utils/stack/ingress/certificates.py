# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates with the cryptography library: PEM files checked before they become a Secret, and the
self-signed certificate for development.

A certificate from files is refused, naming the option and the fix, when its key does not match, when any
certificate of the chain has expired (or is not valid yet), when its SANs do not cover every host, or when
the chain is out of order (each certificate must be signed by the next). What leaves this file for results
is a description (serial, fingerprint, dates, SANs), never PEM; a key is never put into a message.
"""

from __future__ import annotations

import datetime
import traceback
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError, MissingLibraryError

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None

PEM_CERTIFICATE_END = b"-----END CERTIFICATE-----"


def require_cryptography() -> None:
    """Raise MissingLibraryError, naming the pip package, where cryptography is not installed."""
    if not HAS_CRYPTOGRAPHY:
        raise MissingLibraryError(missing_required_lib("cryptography"), CRYPTOGRAPHY_IMPORT_ERROR)


def _fail(path: str, problem: str, fix: str) -> None:
    raise InputError("%s: %s. %s" % (path, problem, fix))


def host_covered(host: str, names: Sequence[str]) -> bool:
    """Whether a certificate with these DNS SANs serves host (RFC 6125: a wildcard stands for exactly one
    whole left-most label; a wildcard host is served only by the same wildcard)."""
    host = host.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in names):
        if name == host:
            return True
        if name.startswith("*.") and not host.startswith("*."):
            first, _dot, rest = host.partition(".")
            if first and rest == name[2:]:
                return True
    return False


def _utc(now: Optional[datetime.datetime]) -> datetime.datetime:
    return now or datetime.datetime.now(datetime.timezone.utc)


def _dns_names(cert: Any) -> List[str]:
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    names: List[str] = extension.value.get_values_for_type(x509.DNSName)
    return names


def _subject(cert: Any) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


def describe(cert: Any) -> Dict[str, Any]:
    """What a result may say about a certificate: no PEM, no key."""
    return {
        "serial": format(cert.serial_number, "x"),
        "sha256_fingerprint": cert.fingerprint(hashes.SHA256()).hex(),
        "subject": _subject(cert),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "dns_names": _dns_names(cert),
    }


def _load_chain(path: str, data: bytes) -> List[Any]:
    if PEM_CERTIFICATE_END not in data:
        _fail(path, "the file holds no PEM certificate", "Give the server certificate in PEM (-----BEGIN CERTIFICATE-----), "
              "followed by its intermediates.")
    try:
        chain: List[Any] = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        _fail(path, "the PEM certificates cannot be read (%s)" % exc, "Give the certificates in PEM, server certificate first.")
    return chain


def _load_key(path: str, data: bytes) -> Any:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        _fail(path, "the private key is encrypted", "Give an unencrypted PEM key (openssl pkey -in KEY -out PLAIN); "
              "keep the file readable only to the controller's user.")
    except (ValueError, UnsupportedAlgorithm):
        # the library's message may quote parts of what it read: it stays out of the result
        _fail(path, "the file holds no PEM private key that can be read", "Give the certificate's private key in PEM.")
    return None


def _public_der(key: Any) -> bytes:
    der: bytes = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def check_pem(cert_pem: bytes, key_pem: bytes, hosts: Sequence[str], warning_days: int,
              now: Optional[datetime.datetime] = None) -> Tuple[Dict[str, Any], List[str]]:
    """(description of the server certificate, warnings) for a chain and key from files; InputError when they cannot
    serve the hosts."""
    require_cryptography()
    now = _utc(now)
    chain = _load_chain("tls.cert_file", cert_pem)
    key = _load_key("tls.key_file", key_pem)
    own = _public_der(key.public_key())
    matching = [i for i, cert in enumerate(chain) if _public_der(cert.public_key()) == own]
    if not matching:
        _fail("tls.key_file", "the private key does not match the certificate %s" % _subject(chain[0]),
              "Give the key the certificate was issued for (compare openssl x509 -noout -pubkey and openssl pkey -pubout).")
    if matching[0] != 0:
        _fail("tls.cert_file", "the key matches certificate %d (%s), not the first one" % (matching[0] + 1, _subject(chain[matching[0]])),
              "Put the server certificate first, then each intermediate that signed the one before it.")
    for index, cert in enumerate(chain, 1):
        if cert.not_valid_after_utc <= now:
            _fail("tls.cert_file", "certificate %d (%s) expired on %s" % (index, _subject(cert), cert.not_valid_after_utc.isoformat()),
                  "Renew it, or use tls.mode cert_manager to have it renewed.")
        if cert.not_valid_before_utc > now:
            _fail("tls.cert_file", "certificate %d (%s) is not valid before %s" % (index, _subject(cert), cert.not_valid_before_utc.isoformat()),
                  "Check the clock of the issuing CA, or wait until then.")
    for index in range(len(chain) - 1):
        cert, issuer = chain[index], chain[index + 1]
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            _fail("tls.cert_file", "certificate %d (%s) is not signed by certificate %d (%s): the chain is out of order"
                  % (index + 1, _subject(cert), index + 2, _subject(issuer)),
                  "List the server certificate first, then each intermediate that signed the one before it; leave out the root.")
    names = _dns_names(chain[0])
    uncovered = [h for h in hosts if not host_covered(h, names)]
    if uncovered:
        _fail("tls.cert_file", "the certificate's DNS names (%s) do not cover %s" % (", ".join(names) or "none", ", ".join(uncovered)),
              "Issue a certificate with these hosts as SANs (a wildcard covers one label), or remove them from hosts.")
    warnings = []
    left = chain[0].not_valid_after_utc - now
    if left < datetime.timedelta(days=warning_days):
        warnings.append("tls.cert_file: the certificate %s expires on %s, in %d days. Renew it soon."
                        % (_subject(chain[0]), chain[0].not_valid_after_utc.isoformat(), left.days))
    return describe(chain[0]), warnings


def reusable(cert_pem: Optional[bytes], hosts: Sequence[str], warning_days: int,
             now: Optional[datetime.datetime] = None) -> Optional[Dict[str, Any]]:
    """The description of a stored self-signed certificate that still serves: it covers every host and is
    more than warning_days from expiry. None when it must be made again (or cannot be read)."""
    require_cryptography()
    if not cert_pem:
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return None
    now = _utc(now)
    names = _dns_names(cert)
    if cert.not_valid_after_utc - now < datetime.timedelta(days=warning_days) or cert.not_valid_before_utc > now:
        return None
    if not all(host_covered(h, names) for h in hosts):
        return None
    return describe(cert)


def self_signed(hosts: Sequence[str], days: int, now: Optional[datetime.datetime] = None) -> Tuple[bytes, bytes, Dict[str, Any]]:
    """(certificate PEM, key PEM, description): a P-256 key and a certificate for the hosts, for development."""
    require_cryptography()
    now = _utc(now)
    key = ec.generate_private_key(ec.SECP256R1())
    common_name = next((h for h in hosts if not h.startswith("*.") and len(h) <= 64), "inferops-self-signed")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # a few minutes back, so that a client whose clock is slightly behind accepts it at once
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, describe(cert)
