"""Redaction at capture: no token, key or client certificate survives; CA material does."""

from __future__ import annotations

import base64

import yaml

from diagnostics.redact import LAST_APPLIED, REDACTED, redact_log, redact_object

KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config", "current-context": "c2",
    "clusters": [{"name": "c2", "cluster": {"server": "https://172.18.0.3:6443",
                                            "certificate-authority-data": "Q0EtREFUQQ=="}}],
    "users": [{"name": "c2", "user": {"token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
                                      "client-key-data": "S0VZ", "client-certificate-data": "Q0VSVA==",
                                      "exec": {"command": "aws", "env": [{"name": "AWS_SECRET", "value": "s3cr3t"}]},
                                      "auth-provider": {"name": "gcp", "config": {"access-token": "ya29.x"}}}}],
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(data: dict, **meta) -> dict:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "istio-system", **meta}, "data": data}


def test_remote_secret_kubeconfig_is_redacted_inside_and_reencoded():
    out = redact_object(secret({"cluster2": b64(yaml.safe_dump(KUBECONFIG))}))
    inner = yaml.safe_load(base64.b64decode(out["data"]["cluster2"]))
    user = inner["users"][0]["user"]
    assert user["token"] == user["client-key-data"] == user["client-certificate-data"] == REDACTED
    assert user["exec"]["env"][0]["value"] == REDACTED
    assert user["auth-provider"] == {"name": "gcp", "config": {"access-token": REDACTED}}
    assert inner["clusters"][0]["cluster"] == KUBECONFIG["clusters"][0]["cluster"]  # server + CA kept


def test_plain_secret_values_become_plain_redacted_but_ca_material_stays():
    out = redact_object(secret({"ca-key.pem": b64("KEY"), "root-cert.pem": b64("ROOT"),
                                "token": b64("tok"), "ca.crt": b64("CA")}))
    assert out["data"] == {"ca-key.pem": REDACTED, "root-cert.pem": b64("ROOT"),
                           "token": REDACTED, "ca.crt": b64("CA")}


def test_last_applied_annotation_is_redacted_and_input_untouched():
    original = secret({"token": b64("tok")}, annotations={LAST_APPLIED: '{"data":{"token":"dG9r"}}'})
    out = redact_object(original)
    assert out["metadata"]["annotations"][LAST_APPLIED] == REDACTED
    assert original["data"]["token"] == b64("tok")


def test_other_kinds_pass_through():
    cm = {"kind": "ConfigMap", "data": {"token": "not a secret here"}}
    assert redact_object(cm) is cm


def test_logs_lose_bearer_tokens_jwts_and_private_keys():
    text = ("GET /x Authorization: Bearer abcdefghijklmnopqrstuvwxyz\n"
            "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl seen\n"
            "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n")
    out = redact_log(text)
    assert "abcdefghijklmnop" not in out and "eyJ" not in out and "MIIB" not in out
    assert out.count(REDACTED) == 3
