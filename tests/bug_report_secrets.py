"""Secret material planted in a bug-report archive, for tests that grep every output for it.

An archive taken with `--full-secrets` holds every Secret in clear, and any archive can hold
credentials in logs, environment variables and Envoy's TLS contexts. `plant` adds one of each
kind meshbot's own capture redacts (diagnostics/redact.py), each carrying a marker, to the
members of one archive; `leaks` finds any of them, raw or base64-encoded, in a text.
"""

from __future__ import annotations

import base64
import json

import yaml

MARK = "PLANTED"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJQTEFOVEVEand0In0.UExBTlRFRHNpZ25hdHVyZQ"
PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvPLANTEDprivatekeymaterialAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
       "-----END PRIVATE KEY-----\n")
VALUES = {
    "secret-data": "PLANTED-opaque-secret-value",
    "kubeconfig-token": "PLANTED-kubeconfig-bearer-token-0123456789",
    "env-token": "PLANTED-env-api-token",
    "configmap-password": "PLANTED-hunter2",
    "log-bearer": "PLANTEDbearer0123456789abcdef",
    "jwt": JWT,
    "private-key": "MIIEvPLANTEDprivatekeymaterial",
}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def leaks(text: str) -> list[str]:
    """The planted values found in `text`: raw, or as the base64 a Secret would carry."""
    found = [name for name, value in VALUES.items() if value in text or _b64(value) in text]
    if _b64(PEM)[:40] in text:
        found.append("private-key-base64")
    return found


def _kubeconfig() -> str:
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.9:6443"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": VALUES["kubeconfig-token"],
                                         "client-key-data": _b64(PEM)}}]})


def _secrets() -> list[dict]:
    meta = {"namespace": "sample", "uid": "5e3a5e3a-0000-4000-8000-000000000001"}
    return [
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": "db-credentials", **meta},
         "data": {"password": _b64(VALUES["secret-data"]), "jwt": _b64(JWT)}},
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
         "metadata": {"name": "frontend-tls", **meta},
         "data": {"tls.key": _b64(PEM), "tls.crt": _b64("not a secret")}},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": "old-kubeconfig", **meta,
                      "annotations": {"note": VALUES["kubeconfig-token"]}},
         "stringData": {"config": _kubeconfig()}},
    ]


def _add_items(text: str, items: list[dict]) -> str:
    doc = yaml.safe_load(text)
    doc["items"] = list(doc.get("items") or []) + items
    for item in doc["items"]:  # the remote secrets istiod reads carry a real token now
        labels = item["metadata"].get("labels") or {}
        if item.get("kind") == "Secret" and labels.get("istio/multiCluster") == "true":
            for key, value in item["data"].items():
                config = yaml.safe_load(base64.b64decode(value))
                for user in config.get("users") or []:
                    user["user"] = {"token": VALUES["kubeconfig-token"]}
                item["data"][key] = _b64(yaml.safe_dump(config))
    return yaml.safe_dump(doc)


def _env(text: str) -> str:
    """An API token in the environment of every sample pod's and istiod's first container."""
    doc = yaml.safe_load(text)
    for item in doc.get("items") or []:
        if item.get("kind") == "Pod" and (item["metadata"].get("namespace") == "sample" or
                                          item["metadata"]["name"].startswith("istiod-")):
            c = item["spec"]["containers"][0]
            c["env"] = list(c.get("env") or []) + [{"name": "API_TOKEN",
                                                    "value": VALUES["env-token"]}]
    return yaml.safe_dump(doc)


def _config_dump(text: str) -> str:
    dump = json.loads(text)
    dump["configs"].append({
        "@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump",
        "dynamic_active_secrets": [{"name": "default", "secret": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
            "name": "default", "tls_certificate": {
                "certificate_chain": {"inline_bytes": _b64("chain")},
                "private_key": {"inline_bytes": _b64(PEM)}}}}]})
    return json.dumps(dump)


LOG_LINES = (f"2026-11-20T08:59:00.000000Z\tinfo\tGET /api Authorization: Bearer "
             f"{VALUES['log-bearer']}\n2026-11-20T08:59:01.000000Z\tinfo\tlogin token={JWT}\n")


def plant(members: dict[str, bytes]) -> dict[str, bytes]:
    """`members` of one archive with every kind of planted secret added."""
    out = dict(members)
    for name, data in members.items():
        text = data.decode()
        if name.endswith("cluster/secrets") and text.startswith("apiVersion"):
            out[name] = _add_items(text, _secrets()).encode()
        elif name.endswith("cluster/pods"):
            out[name] = _env(text).encode()
        elif name.endswith("cluster/k8s-resources"):
            config = {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "app-config", "namespace": "sample"},
                      "data": {"app.properties": f"db.password={VALUES['configmap-password']}"}}
            out[name] = _add_items(_env(text), [config]).encode()
        elif name.endswith("config_dump?include_eds"):
            out[name] = _config_dump(text).encode()
        elif name.endswith(("discovery.log", "istio-proxy.log")):
            out[name] = (text + LOG_LINES).encode()
    sleep = next(n for n in out if "/proxies/sample/sleep-" in n or n.startswith("proxies/sample/"))
    log = sleep.rsplit("/", 1)[0] + "/istio-proxy.log"
    out.setdefault(log, LOG_LINES.encode())
    return out
