"""Real, reproducible X.509 certificates for the mesh's CAs.

Trust checks compare root fingerprints, subjects and expiry, so the test data must hold real
certificates. Ed25519 keys are derived from a seed and Ed25519 signatures are deterministic, so
with fixed serials and validity dates the PEM output is byte-for-byte stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from tests.meshgen.naming import digest, number

_NOT_BEFORE = datetime(2026, 1, 5, 0, 0, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Cert:
    pem: str
    fingerprint_sha256: str
    subject: str
    issuer: str
    serial: int
    not_before: datetime
    not_after: datetime


def _key(seed: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(digest("ed25519", seed)[:32])


def _name(*attrs: tuple) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


def _build(subject: x509.Name, issuer: x509.Name, key: Ed25519PrivateKey,
           signer: Ed25519PrivateKey, serial: int, not_after: datetime, ca: bool,
           path_len: int | None) -> Cert:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = builder.sign(signer, None)
    return Cert(
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=serial,
        not_before=_NOT_BEFORE,
        not_after=not_after,
    )


def _serial(*parts: object) -> int:
    return 1 + number("serial", *parts) % (2**63)


@lru_cache(maxsize=None)
def root_ca(seed: str, not_after: datetime) -> Cert:
    """The mesh root, as made by Istio's `make -f Makefile.selfsigned.mk root-ca`.

    Two different seeds give the same subject but different keys: the classic mismatch where
    every cluster generated its own root and the subjects look identical.
    """
    name = _name((NameOID.ORGANIZATION_NAME, "Istio"), (NameOID.COMMON_NAME, "Root CA"))
    key = _key(f"root/{seed}")
    return _build(name, name, key, key, _serial("root", seed), not_after, True, None)


@lru_cache(maxsize=None)
def intermediate_ca(root_seed: str, root_not_after: datetime, cluster: str) -> Cert:
    """The per-cluster intermediate (`ca-cert.pem` in `cacerts`), signed by the root."""
    root_name = _name((NameOID.ORGANIZATION_NAME, "Istio"), (NameOID.COMMON_NAME, "Root CA"))
    subject = _name((NameOID.ORGANIZATION_NAME, "Istio"),
                    (NameOID.COMMON_NAME, "Intermediate CA"), (NameOID.LOCALITY_NAME, cluster))
    not_after = min(datetime(2028, 1, 5, tzinfo=timezone.utc), root_not_after)
    return _build(subject, root_name, _key(f"intermediate/{root_seed}/{cluster}"),
                  _key(f"root/{root_seed}"), _serial("intermediate", root_seed, cluster),
                  not_after, True, 0)


@lru_cache(maxsize=None)
def kube_api_ca(name: str) -> Cert:
    """A Kubernetes cluster CA (`kube-root-ca.crt`, kubeconfig certificate-authority-data)."""
    subject = _name((NameOID.COMMON_NAME, "kubernetes"))
    key = _key(f"kube-ca/{name}")
    return _build(subject, subject, key, key, _serial("kube-ca", name),
                  datetime(2036, 11, 17, tzinfo=timezone.utc), True, None)
