"""Redaction at capture: no token, key or client certificate survives; CA material does."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import yaml

from diagnostics.redact import (LAST_APPLIED, REDACTED, TextMemo, redact_debug,
                                redact_for_capture, redact_kubeconfig, redact_log, redact_object,
                                redact_text)

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


# Real-shaped lines: Slack's documented token prefixes (api.slack.com/authentication/
# token-types), a Kubernetes service-account JWT header, Envoy access-log and Go client log
# styles, YAML/JSON config text. (line, the secret in it)
SAMPLES = [
    ("2026-11-20T08:31:00.123456Z\tinfo\tads\tconnecting token=s3cr3tT0kenValue01 to CA",
     "s3cr3tT0kenValue01"),
    ("retry with access_token=ya29.a0AfH6SMBplanted01&expires_in=3599", "ya29.a0AfH6SMBplanted01"),
    ('{"level":"info","msg":"login","password":"hunter2planted"}', "hunter2planted"),
    ("db:\n  password: correct-horse-battery-planted\n", "correct-horse-battery-planted"),
    ("[2026-11-20T08:31:00.000Z] \"GET /api HTTP/1.1\" 200 authorization=Bearer dGVzdHBsYW50ZWQ",
     "dGVzdHBsYW50ZWQ"),
    ("Authorization: Basic dXNlcjpwbGFudGVkcGFzcw==", "dXNlcjpwbGFudGVkcGFzcw=="),
    ("posting with xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
     "pdFZKVeTuE8sk7oOcBrzbqgy"),
    ("socket mode app token xapp-1-A0MESHBOT-4513861234567-1a2b3c4d5e6f", "1a2b3c4d5e6f"),
    ("user token xoxp-17653672481-19874698323-99887766554-abcdefplanted", "abcdefplanted"),
    ("token eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl",
     "eyJzdWIiOiJzeXN0ZW06c2EifQ"),
    ("unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJwbGFudGVkIn0. token", "eyJzdWIiOiJwbGFudGVkIn0"),
    ("proxy https://meshbot:pl4nted-pass@proxy.example.com:3128/ used", "pl4nted-pass"),
    ("key -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIplanted\n(log cut here", "MHcCAQEEIplanted"),
]


@pytest.mark.parametrize("line, secret", SAMPLES)
def test_credentials_in_free_text_are_redacted(line, secret):
    out = redact_text(line)
    assert secret not in out and REDACTED in out, out


def test_a_captures_memo_answers_as_redact_text_does_and_stays_bounded(monkeypatch):
    memo = TextMemo()
    texts = [line for line, _ in SAMPLES] + ["IfNotPresent", "TCP", "x" * 300]
    for _ in range(2):  # the second time from the memo
        assert [memo(t) for t in texts] == [redact_text(t) for t in texts]
    assert "x" * 300 not in memo._seen and "TCP" in memo._seen
    monkeypatch.setattr(TextMemo, "MEMO_ENTRIES", 3)
    small = TextMemo()
    assert [small(str(i)) for i in range(10)] == [str(i) for i in range(10)]
    assert len(small._seen) == 3
    pod = {"kind": "Pod", "metadata": {"name": "a"}, "spec": {"containers": [
        {"name": "app", "env": [{"name": "DB_PASSWORD", "value": "hunter2"},
                                {"name": "ARGS", "value": "--token=abcdef123456"}]}]}}
    assert redact_for_capture(pod, TextMemo()) == redact_for_capture(pod)


def _whole_text(text: str) -> str:
    """The patterns over the whole text at once, case-insensitively: what redact_text did
    before it searched only the suspect lines, kept here as the oracle."""
    from diagnostics import redact as r

    if not re.search(r"(?i)PRIVATE.KEY|authoriz|bearer|eyJ|xox|xapp-|token|pass|pwd|secret"
                     r"|api_?key|://[^/\s]*@", text):
        return text
    text = r._PRIVATE_KEY.sub(REDACTED, text)
    for pattern, replacement in r._LINE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def test_searching_only_suspect_lines_redacts_what_the_whole_text_search_does():
    """Every sample planted at the start, middle and end of a real istiod log, and split over
    lines where a value may follow its key on the next line, comes out as the whole-text
    search gives it."""
    root = Path(__file__).resolve().parents[1]
    log = next(root.glob("examples/demo-mesh/clusters/*/logs/istio-system/*/discovery.log"))
    lines = log.read_text().splitlines(keepends=True)
    planted = [line for line, _ in SAMPLES] + [
        "password:\n\n  hunter2planted\n", "Authorization: Bearer\n\nplantedtoken99\n",
        "private_key = plantedkey\n", "ISTANBUL İ token=plantedİ\n", "TOKEN=UPPERplanted"]
    for sample in planted:
        for at in (0, len(lines) // 2, len(lines)):
            text = "".join(lines[:at]) + sample + "\n" + "".join(lines[at:])
            assert redact_text(text) == _whole_text(text), (sample, at)


def test_no_log_fixture_loses_a_word_it_needs():
    """The patterns must not redact what diagnoses read: every istiod and proxy log of the
    fixtures, scenarios and demo (secret names such as `secret=istio-system/x` included) comes
    out unchanged."""
    root = Path(__file__).resolve().parents[1]
    files = [*root.glob("tests/**/*.log"), *root.glob("examples/**/*.log"),
             *root.glob("tests/fixtures/istio/**/*.txt")]
    assert len(files) > 50
    changed = [str(f) for f in files if redact_text(f.read_text()) != f.read_text()]
    assert changed == []


def test_envoy_secret_dumps_lose_the_certificate_and_key_but_keep_the_trusted_ca(fixtures_dir):
    """The verbatim Envoy config_dump: only the workload certificate's chain and key change."""
    dump = json.loads((fixtures_dir / "istio/envoy-config-dump-sidecar-with-eds.json").read_text())
    out = redact_debug(dump)
    secrets = {s["name"]: s["secret"] for s in out["configs"][6]["dynamic_active_secrets"]}
    assert secrets["default"]["tls_certificate"] == {
        "certificate_chain": {"inline_bytes": REDACTED}, "private_key": {"inline_bytes": REDACTED}}
    assert secrets["ROOTCA"] == {s["name"]: s["secret"] for s in dump["configs"][6][
        "dynamic_active_secrets"]}["ROOTCA"]
    out["configs"][6] = dump["configs"][6]
    assert out == dump


def test_kubeconfig_exec_arguments_are_redacted_but_the_command_stays():
    user = {"exec": {"command": "aws", "args": ["eks", "get-token", "--token=abc"]}}
    out = redact_kubeconfig({"users": [{"name": "u", "user": user}]})
    assert out["users"][0]["user"]["exec"] == {"command": "aws",
                                               "args": [REDACTED, REDACTED, REDACTED]}


def test_secret_annotations_are_redacted_except_names_checks_read():
    out = redact_object(secret({}, annotations={"networking.istio.io/cluster": "cluster2",
                                                "example.com/token": "abc"}))
    assert out["metadata"]["annotations"] == {"networking.istio.io/cluster": "cluster2",
                                              "example.com/token": REDACTED}


# ------------------------------------------ which lines are searched (redact._SUSPECT_WORDS)

from diagnostics import redact as _redact  # noqa: E402

HERE = Path(__file__).resolve().parent
#: What a match of every redaction pattern begins with, as one alternation: the words the
#: redaction searches for (redact._SUSPECT_WORDS, _SUSPECT_PREFIXED) must find the same lines.
SUSPECT = re.compile(r"private.key|authoriz|bearer|eyj|xox|xapp-|token|pass|pwd|secret"
                     r"|api_?key|://[^/\s]*@")


def _suspect_lines(low: str, places) -> set[int]:
    return {low.count("\n", 0, at) for at in places}


def _texts() -> list[str]:
    logs = sorted(HERE.glob("**/logs/**/*.log"))[:60]
    assert logs
    made = ["Authorization: Bearer abc", "x eyJhbGciOi.y.z", "xoxb-1-2 xapp-1-A", "a pass b",
            "pwd=1\nPASSWORD:\n\n  s3cr3t\nnext", "api_key=1 apikey=2 api-key=3 apixkey",
            "https://user:pw@host/x ://@ http://host/a@b", "PRIVATE KEY\nprivateXkey private\nkey",
            "tokentokenpass", "secretsecret", "nothing here", "", "\n\n"]
    return made + [p.read_text(errors="replace") for p in logs] + \
        [(HERE / "fixtures" / "istiod-logs" / "real-lines.yaml").read_text()]


def test_the_words_are_found_on_the_lines_the_pattern_matches_on():
    for text in _texts():
        low = text.lower()
        expected = _suspect_lines(low, (m.start() for m in SUSPECT.finditer(low)))
        assert _suspect_lines(low, _redact._suspect_places(low)) == expected, text[:200]
