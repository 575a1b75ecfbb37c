"""Root certificates as people compare them: SHA-256 fingerprint, subject and expiry.

Certificates are compared by fingerprint and never printed: evidence carries fingerprints,
subjects and dates only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class CertInfo:
    fingerprint: str  # SHA-256, colon-separated upper-case hex as `openssl x509 -fingerprint`
    subject: str
    not_after: datetime

    @property
    def short(self) -> str:
        return self.fingerprint[:23] + "…"

    def days_left(self, now: datetime) -> int:
        return (self.not_after - now).days


def parse_pem_bundle(text: str | None) -> list[CertInfo]:
    """Every certificate of a PEM bundle; an unreadable bundle gives an empty list."""
    if not text or "BEGIN CERTIFICATE" not in text:
        return []
    from cryptography import x509  # a tenth of a second: only for commands that read roots
    from cryptography.hazmat.primitives import hashes

    try:
        certs = x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        return []
    out = []
    for cert in certs:
        digest = cert.fingerprint(hashes.SHA256()).hex().upper()
        out.append(CertInfo(":".join(digest[i:i + 2] for i in range(0, len(digest), 2)),
                            cert.subject.rfc4514_string(),
                            cert.not_valid_after_utc.astimezone(timezone.utc)))
    return out
