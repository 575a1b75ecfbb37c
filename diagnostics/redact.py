"""Redaction at capture: secret material never leaves the source that read it.

Token, key and client-certificate values become the plain string `REDACTED` (contract C4);
inside a kubeconfig carried by a Secret (a remote secret) the kubeconfig's own fields are
redacted before it is encoded again, so checks still see its server, CA and auth *kind*.
CA certificates are public and stay: the trust checks compare them.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from typing import Any

import yaml

REDACTED = "REDACTED"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Secret data keys that hold public CA material, kept so trust checks can compare roots.
PUBLIC_CERT_KEYS = frozenset({"ca.crt", "root-cert.pem", "ca-cert.pem", "cert-chain.pem",
                              "ca-bundle.crt", "ca-bundle.pem"})
_USER_SECRET_FIELDS = ("token", "client-key-data", "client-certificate-data", "password")

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}")
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
                          re.DOTALL)


def redact_log(text: str) -> str:
    """Bearer tokens, JWTs and PEM private keys in free text."""
    text = _PRIVATE_KEY.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    return _JWT.sub(REDACTED, text)


def redact_kubeconfig(kubeconfig: dict) -> dict:
    """A kubeconfig with credentials replaced; servers, CAs and auth kinds are kept."""
    out = copy.deepcopy(kubeconfig)
    for entry in out.get("users") or []:
        user = (entry or {}).get("user") or {}
        for key in _USER_SECRET_FIELDS:
            if user.get(key):
                user[key] = REDACTED
        provider = user.get("auth-provider") or {}
        if isinstance(provider.get("config"), dict):
            provider["config"] = {k: REDACTED for k in provider["config"]}
        for env in ((user.get("exec") or {}).get("env") or []):
            if isinstance(env, dict) and "value" in env:
                env["value"] = REDACTED
    return out


def parse_kubeconfig(text: str | None) -> dict | None:
    """A kubeconfig document, or None when `text` is not one."""
    if not text:
        return None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if isinstance(doc, dict) and ("clusters" in doc or "users" in doc):
        return doc
    return None


def _redact_secret_value(key: str, value: Any, encoded: bool) -> Any:
    if key in PUBLIC_CERT_KEYS or value == REDACTED:
        return value
    text = decode_secret_value(value) if encoded else value
    kubeconfig = parse_kubeconfig(text) if isinstance(text, str) else None
    if kubeconfig is None:
        return REDACTED
    redacted = yaml.safe_dump(redact_kubeconfig(kubeconfig), sort_keys=False)
    return base64.b64encode(redacted.encode()).decode() if encoded else redacted


def redact_object(obj: dict) -> dict:
    """Return `obj` with Secret values redacted; other kinds pass through untouched."""
    if obj.get("kind") != "Secret":
        return obj
    out = dict(obj)
    for field, encoded in (("data", True), ("stringData", False)):
        values = obj.get(field)
        if isinstance(values, dict):
            out[field] = {k: _redact_secret_value(k, v, encoded) for k, v in values.items()}
    meta = dict(obj.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    if LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = REDACTED
        meta["annotations"] = annotations
    out["metadata"] = meta
    return out


def decode_secret_value(value: Any) -> str | None:
    """The text of a Secret data value, or None when it was redacted or is not text."""
    if not isinstance(value, str) or value == REDACTED:
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
