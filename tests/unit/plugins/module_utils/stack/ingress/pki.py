"""Certificates for the tests, made with cryptography: a CA, an intermediate, server certificates."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)


def key():
    return ec.generate_private_key(ec.SECP256R1())


def cert(subject, subject_key, issuer=None, issuer_key=None, names=(), days=(-10, 90), ca=False):
    """A certificate for subject_key, signed by issuer_key (itself when none); days: (from, to) relative to NOW."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer is not None else name)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + datetime.timedelta(days=days[0]))
        .not_valid_after(NOW + datetime.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(issuer_key or subject_key, hashes.SHA256())


def pem(*certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(private_key, password=None):
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


class Chain:
    """root -> intermediate -> server, the server certificate for names."""

    def __init__(self, names=("models.example.com",), days=(-10, 90), intermediate_days=(-100, 900)):
        self.root_key, self.intermediate_key, self.server_key = key(), key(), key()
        self.root = cert("Test Root", self.root_key, ca=True, days=(-1000, 3000))
        self.intermediate = cert("Test Intermediate", self.intermediate_key, self.root, self.root_key, ca=True, days=intermediate_days)
        self.server = cert(names[0] if names else "server", self.server_key, self.intermediate, self.intermediate_key, names=names, days=days)
