"""What an error text from istiod's Kubernetes client means, in every form Go and client-go
print it (examples with their sources in tests/fixtures/istiod-logs/go-errors.yaml).

Go's net package wraps a failure as `dial tcp <addr>: <op>: <errno text>` (`connect: connection
refused`, `connect: no route to host`, `connect: invalid argument`; `getsockopt:` before Go 1.12),
a deadline as `i/o timeout`, a failed name lookup as `lookup <name> on <dns>: no such host` or
`server misbehaving`; net/http adds `TLS handshake timeout` and `Client.Timeout exceeded`, and
contexts `context deadline exceeded`. crypto/x509 says `certificate signed by unknown authority`,
`certificate has expired or is not yet valid`, `certificate is valid for A, not B` and `cannot
validate certificate for IP because it doesn't contain any IP SANs`, behind `tls: failed to
verify certificate:` since Go 1.20. The API server answers `Unauthorized` when it rejects the
credentials and `... is forbidden: User "..." cannot list ...` when it accepts them but RBAC
does not allow the request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Cause = Literal["unreachable", "dns", "tls", "unauthorized", "kubeconfig", "timeout"]
#: Causes that name why a cluster cannot be read; "timeout" only says that it was not.
SPECIFIC_CAUSES: tuple[Cause, ...] = ("kubeconfig", "dns", "tls", "unauthorized", "unreachable")
Rejection = Literal["credentials", "permissions"]

# (cause, detail, pattern): the most specific first, so a DNS lookup that times out is DNS and
# a TLS handshake that times out is reachability, not trust.
_RULES: tuple[tuple[Cause, str, re.Pattern], ...] = tuple(
    (cause, detail, re.compile(pattern)) for cause, detail, pattern in (
        ("kubeconfig", "kubeconfig refused",
         r"kubeconfig (?:is empty|cannot be loaded|is not valid|is not allowed)"
         r"|\b(?:exec|clientKey|clientCertificate|tokenFile) is not allowed"
         r"|auth provider \S+ is not allowed|failed to create kube clients"),
        ("dns", "no such host", r"no such host"),
        ("dns", "DNS server misbehaving", r"server misbehaving"),
        ("dns", "name lookup failed", r"\blookup \S+(?: on \S+)?: |[Tt]emporary failure in name "
                                      r"resolution"),
        ("tls", "certificate signed by unknown authority",
         r"certificate signed by unknown authority|unknown certificate authority"),
        ("tls", "certificate expired or not yet valid",
         r"certificate has expired or is not yet valid"),
        ("tls", "certificate not valid for this name",
         r"certificate is valid for .*, not |doesn't contain any IP SANs"
         r"|certificate is not valid for any names"),
        ("tls", "certificate not trusted", r"x509: |tls: failed to verify certificate"),
        ("unauthorized", "forbidden", r"\bis forbidden\b|\bforbidden:|\(Forbidden\)"),
        ("unauthorized", "Unauthorized", r"\bUnauthorized\b|provide credentials"),
        ("unreachable", "TLS handshake timeout", r"TLS handshake timeout"),
        ("unreachable", "connection refused", r"connection refused"),
        ("unreachable", "no route to host", r"no route to host|host is unreachable"),
        ("unreachable", "network is unreachable", r"network is unreachable"),
        ("unreachable", "invalid address (connect: invalid argument)",
         r"connect: invalid argument"),
        ("unreachable", "connection reset by peer", r"connection reset by peer"),
        ("unreachable", "i/o timeout", r"i/o timeout|connection timed out"),
        ("unreachable", "request timed out",
         r"Client\.Timeout exceeded|context deadline exceeded|request canceled while waiting"),
        ("timeout", "sync timeout", r"failed to sync after"),
    ))
_USER = re.compile(r'User \\?"(?P<user>[^"\\]+)\\?"')
_SERVICE_ACCOUNT = re.compile(r"^system:serviceaccount:(?P<ns>[^:]+):(?P<name>.+)$")


@dataclass(frozen=True)
class ErrorMeaning:
    """What an error text says: its cause, the form it took, and who the server said it was."""

    cause: Cause | None
    detail: str | None = None
    user: str | None = None  # the identity a `forbidden` names (never a token)

    @property
    def rejection(self) -> Rejection | None:
        """Rejected credentials (`Unauthorized`) or missing permissions (`forbidden`)."""
        if self.cause != "unauthorized":
            return None
        return "permissions" if self.detail == "forbidden" else "credentials"

    @property
    def remote_reader(self) -> bool | None:
        """True when the identity is the reader service account that only remote secrets use;
        False for any other identity (istiod's own); None when the text names none."""
        if self.user is None:
            return None
        return is_remote_reader(self.user)


def is_remote_reader(user: str) -> bool:
    """`istioctl create-remote-secret` makes its kubeconfig for `istio-reader-service-account`
    (older releases: `istio-reader-<namespace>`); istiod itself never runs as it."""
    match = _SERVICE_ACCOUNT.match(user)
    return bool(match) and match.group("name").startswith("istio-reader")


def meaning(text: str) -> ErrorMeaning:
    """The cause an error text names, with the form it took and the identity it names."""
    user_match = _USER.search(text)
    user = user_match.group("user") if user_match else None
    for cause, detail, pattern in _RULES:
        if pattern.search(text):
            return ErrorMeaning(cause, detail, user)
    return ErrorMeaning(None, None, user)


def classify_error(text: str) -> Cause | None:
    """The cause an error text names, most specific first (a DNS lookup that times out is DNS)."""
    return meaning(text).cause


_MULTIERROR = re.compile(r"\d+ errors? occurred:\s*\n\s*\*\s*(?P<first>.+)")
_FAILED_LIST = re.compile(r"^(?:[Ff]ailed to (?:list|watch) \S+: )+")
_REQUEST = re.compile(r'^(?:Get|Post|Put|Patch|Delete|Head) "?[^"\s]*"?: ')
_TRAILER = re.compile(r": (?:Failed to watch|Unhandled Error)$")


def essential_error(text: str) -> str:
    """The decisive part of an error: no multierror wrapper, list prefix, request URL or the
    message client-go's structured logging appends."""
    text = " ".join(text.strip().split("\n")) if "occurred:" not in text else text.strip()
    if m := _MULTIERROR.search(text):
        text = m.group("first").strip()
    text = _TRAILER.sub("", text)
    text = _FAILED_LIST.sub("", text)
    return _REQUEST.sub("", text).strip()


_URL = re.compile(r'(https?://[^/"\s]+)/[^"\s]*')


def shorten(text: str, limit: int = 220) -> str:
    """One line of at most `limit` characters: URLs keep only scheme, host and port, and an
    overlong line loses its middle, since the decisive error is at the end."""
    one = " ".join(_URL.sub(r"\1/…", text).split())
    if len(one) <= limit:
        return one
    head = limit // 3
    return one[:head] + " … " + one[-(limit - head - 3):]
