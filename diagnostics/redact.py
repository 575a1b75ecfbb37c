"""Redaction at capture: secret material never leaves the source that read it.

Token, key and client-certificate values become the plain string `REDACTED` (contract C4);
inside a kubeconfig carried by a Secret (a remote secret) the kubeconfig's own fields are
redacted before it is encoded again, so checks still see its server, CA and auth *kind*.
CA certificates are public and stay: the trust checks compare them.

Where there is a structure, redaction follows it: a Secret's data, stringData and annotations;
a kubeconfig's users (tokens, client keys, exec arguments and environment, auth-provider
config); Envoy's TLS certificates, generic secrets and credential headers in istiod's config
dumps; workload environment variables named like credentials. Everywhere else, and after the
structure, free text is searched for what credentials look like: `Authorization: Bearer/Basic`,
`token=`/`password=` pairs, Slack tokens, JWTs, PEM private keys, passwords in URLs.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import copy
import itertools
import re
from typing import Any, Callable

import yaml

from diagnostics import yaml_text

REDACTED = "REDACTED"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Secret data keys that hold public CA material, kept so trust checks can compare roots.
PUBLIC_CERT_KEYS = frozenset({"ca.crt", "root-cert.pem", "ca-cert.pem", "cert-chain.pem",
                              "ca-bundle.crt", "ca-bundle.pem"})
# Secret annotations that carry names, not credentials (the first one is read by the checks);
# any other annotation value of a Secret is redacted, since a token there has no telltale shape.
PUBLIC_SECRET_ANNOTATIONS = frozenset({"networking.istio.io/cluster",
                                       "kubernetes.io/service-account.name",
                                       "kubernetes.io/service-account.uid"})
_USER_SECRET_FIELDS = ("token", "client-key-data", "client-certificate-data", "password")

# -- free text ---------------------------------------------------------------------------------
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?"
                          r"(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL)
_AUTHORIZATION = re.compile(r"(?i)\b((?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?"
                            r"(?:bearer|basic|token|negotiate|digest)?\s*)[^\s\"',;]{4,}")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_SLACK_TOKEN = re.compile(r"\bx(?:ox[abposre]|app)-[A-Za-z0-9-]{6,}")
_CREDENTIAL_PAIR = re.compile(
    r"(?i)(\b(?:access_|refresh_|id_|auth_|bearer_)?token|\bpass(?:word|wd)?|\bpwd"
    r"|\bclient_secret|\bsecret_key|\bapi_?key|\bprivate_key)"
    r"(\s*=\s*|[\"']\s*:\s*[\"']?|\s*:\s+(?=\S))([^\s\"'&,;}\]]+)")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@")
# Every pattern's match begins with one of these words, searched in the lowercased text: one
# case-sensitive scan finds the few lines that need the patterns above (a case-insensitive one
# is ten times slower, and so are the patterns, over a 5,000-line log that has a handful). The
# words are found with str.find, once per text (an alternation of them, searched once to
# decide and again to find every place, took 15 ms of a 650 kB istiod log; this, 9 ms); the
# three that are no plain word by a plain prefix and their pattern at each place it occurs
# (tests/test_redact.py holds them to that alternation, line for line).
_SUSPECT_WORDS = ("authoriz", "bearer", "eyj", "xox", "xapp-", "token", "pass", "pwd", "secret")
_SUSPECT_PREFIXED = (("private", re.compile(r"private.key")), ("api", re.compile(r"api_?key")),
                     ("://", re.compile(r"://[^/\s]*@")))
_LINE_PATTERNS = (
    (_AUTHORIZATION, lambda m: m.group(1) + REDACTED),
    (_BEARER, lambda m: m.group(1) + REDACTED),
    (_JWT, REDACTED),
    (_SLACK_TOKEN, REDACTED),
    (_URL_PASSWORD, lambda m: m.group(1) + REDACTED + "@"),
    (_CREDENTIAL_PAIR,
     lambda m: m.group(0) if m.group(3) == REDACTED else m.group(1) + m.group(2) + REDACTED),
)


def redact_text(text: str) -> str:
    """Credentials in free text (logs, any string of a captured document)."""
    low = text.lower()
    places = _suspect_places(low)
    if not places:
        return text
    if "private" in low:
        text = _PRIVATE_KEY.sub(REDACTED, text)  # the one pattern that spans lines of its own
        low = text.lower()
        places = _suspect_places(low)
    if "\n" not in text or len(low) != len(text):  # (lowercasing moved offsets: rare Unicode)
        return _redact_chunk(text)
    lines = text.splitlines(keepends=True)
    out, done = [], 0
    for first, end in _suspect_runs(lines, places):
        out += lines[done:first]
        out.append(_redact_chunk("".join(lines[first:end])))
        done = end
    out += lines[done:]
    return "".join(out)


def _redact_chunk(text: str) -> str:
    for pattern, replacement in _LINE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _suspect_places(low: str) -> list[int]:
    """Where a suspect word begins in the lowercased text, in order (see _SUSPECT_WORDS)."""
    places = []
    for word in _SUSPECT_WORDS:
        at = low.find(word)
        while at >= 0:
            places.append(at)
            at = low.find(word, at + 1)
    for prefix, pattern in _SUSPECT_PREFIXED:
        at = low.find(prefix)
        while at >= 0:
            if pattern.match(low, at):
                places.append(at)
            at = low.find(prefix, at + 1)
    return sorted(places)


def _suspect_runs(lines: list[str], places: list[int]) -> list[tuple[int, int]]:
    """The runs of lines [first, end) the patterns must search. A match starts on a line with
    a suspect word and may reach past its end only through whitespace (`password:` and the
    value on the next line), so a run takes the blank lines after a suspect line and the
    first line after them."""
    starts = list(itertools.accumulate((len(line) for line in lines), initial=0))
    runs: list[tuple[int, int]] = []
    for place in places:
        first = bisect.bisect_right(starts, place) - 1
        end = first + 1
        while end < len(lines) and not lines[end].strip():
            end += 1
        end = min(end + 1, len(lines))
        if runs and first <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(end, runs[-1][1]))
        else:
            runs.append((first, end))
    return runs


redact_log = redact_text  # the name the live source and the checks use


class TextMemo:
    """`redact_text` remembering its answers for short strings, for one capture: 10,000 pods
    hold millions of strings, mostly the same few thousand values (images, pull policies, env
    values, protocols), and a lookup takes a tenth of the word search. Dropped with the
    capture (the bot never keeps one: what it holds would outlive its diagnoses); at most
    MEMO_ENTRIES strings of at most MEMO_LENGTH characters, a few megabytes."""

    MEMO_LENGTH = 256
    MEMO_ENTRIES = 1 << 16

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        if len(text) > self.MEMO_LENGTH:
            return redact_text(text)
        found = self._seen.get(text)
        if found is None:
            found = redact_text(text)
            if len(self._seen) < self.MEMO_ENTRIES:
                self._seen[text] = found
        return found


def _strings(value: Any, redact: Callable[[str], str] = redact_text) -> Any:
    """`redact` (redact_text) over every string of a JSON-like document (a new document)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _strings(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v, redact) for v in value]
    return value


# -- kubeconfigs and Secrets -------------------------------------------------------------------


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
        exec_ = user.get("exec") if isinstance(user.get("exec"), dict) else {}
        for env in exec_.get("env") or []:
            if isinstance(env, dict) and "value" in env:
                env["value"] = REDACTED
        if isinstance(exec_.get("args"), list):  # `--token=...` and the like: no telltale
            exec_["args"] = [REDACTED for _ in exec_["args"]]
    return _strings(out)


def parse_kubeconfig(text: str | None) -> dict | None:
    """A kubeconfig document, or None when `text` is not one."""
    if not text:
        return None
    try:
        doc = yaml_text.load(text)
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
    redacted = yaml_text.dump(redact_kubeconfig(kubeconfig), sort_keys=False)
    return base64.b64encode(redacted.encode()).decode() if encoded else redacted


def redact_object(obj: dict) -> dict:
    """Return `obj` with Secret values and annotations redacted; other kinds pass untouched."""
    if obj.get("kind") != "Secret":
        return obj
    out = dict(obj)
    for field, encoded in (("data", True), ("stringData", False)):
        values = obj.get(field)
        if isinstance(values, dict):
            out[field] = {k: _redact_secret_value(k, v, encoded) for k, v in values.items()}
    meta = dict(obj.get("metadata") or {})
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        meta["annotations"] = {k: v if k in PUBLIC_SECRET_ANNOTATIONS else REDACTED
                               for k, v in annotations.items()}
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


# -- what a capture writes ---------------------------------------------------------------------

_CREDENTIAL_WORDS = {"TOKEN", "PASSWORD", "PASSWD", "SECRET", "APIKEY", "CREDENTIAL",
                     "CREDENTIALS"}
_CREDENTIAL_PAIRS = {("API", "KEY"), ("ACCESS", "KEY"), ("PRIVATE", "KEY"), ("SECRET", "KEY")}


def _credential_name(name: str) -> bool:
    """An environment variable named like a credential: DB_PASSWORD, GITHUB_TOKEN, API_KEY,
    AWS_SECRET_ACCESS_KEY. The last word decides: istiod's LOCAL_CLUSTER_SECRET_WATCHER is a
    switch, not a secret."""
    words = [w for w in re.split(r"[^A-Z0-9]+", name.upper()) if w]
    return bool(words) and (words[-1] in _CREDENTIAL_WORDS
                            or tuple(words[-2:]) in _CREDENTIAL_PAIRS)


def _env_values(value: Any) -> Any:
    """Literal values of credential-named environment variables, wherever a pod spec or a
    workload template lists them."""
    if isinstance(value, list):
        return [_env_values(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _env_values(v) for k, v in value.items()}
    env = out.get("env")
    if isinstance(env, list):
        out["env"] = [{**e, "value": REDACTED} if isinstance(e, dict) and "value" in e
                      and _credential_name(str(e.get("name", ""))) else e for e in env]
    return out


def redact_for_capture(obj: dict, redact: Callable[[str], str] = redact_text) -> dict:
    """A Kubernetes object as `meshbot snapshot` writes it: Secrets by their structure,
    credential-named environment variables, then every string by pattern (`redact`: a
    capture's TextMemo)."""
    return _strings(_env_values(redact_object(obj)), redact)


_TLS_CERTIFICATES = {"tlscertificate", "tlscertificates"}
_SECRET_FIELDS = {"privatekey", "password", "genericsecret", "sessionticketkeys", "hmacsecret",
                  "clientsecret", "privatekeyprovider", "accesstoken", "apikey"}
_DATA_SOURCE = {"inlinebytes", "inlinestring"}
_CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie",
                       "x-api-key", "x-auth-token", "x-vault-token"}
_HEADER_NAME_FIELDS = ("key", "name", "header_name", "headerName")


def _norm(key: str) -> str:
    return key.replace("_", "").lower()


def _private_key_bytes(value: Any) -> bool:
    """An inline_bytes value (base64) that decodes to a PEM private key."""
    if not isinstance(value, str) or len(value) < 40:
        return False
    try:
        return b"PRIVATE KEY" in base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False


def _all_data_sources(value: Any) -> Any:
    """Every inline value below a TLS certificate: its chain (a client certificate) and key."""
    if isinstance(value, dict):
        return {k: REDACTED if _norm(k) in _DATA_SOURCE else _all_data_sources(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_all_data_sources(v) for v in value]
    return value


def _credential_header(node: dict) -> bool:
    names = [node.get(f) for f in _HEADER_NAME_FIELDS]
    return any(isinstance(n, str) and n.lower() in _CREDENTIAL_HEADERS for n in names)


def _debug_structure(value: Any) -> Any:
    if isinstance(value, list):
        return [_debug_structure(v) for v in value]
    if not isinstance(value, dict):
        return value
    if _credential_header(value):  # {key: authorization, value: ...} or a matcher on it
        return {k: v if k in _HEADER_NAME_FIELDS else REDACTED for k, v in value.items()}
    out: dict[str, Any] = {}
    for key, item in value.items():
        norm = _norm(key)
        if norm in _SECRET_FIELDS:
            out[key] = REDACTED
        elif norm in _TLS_CERTIFICATES:
            out[key] = _all_data_sources(item)
        elif norm == "inlinebytes" and _private_key_bytes(item):
            out[key] = REDACTED
        else:
            out[key] = _debug_structure(item)
    return out


def redact_debug(body: Any, redact: Callable[[str], str] = redact_text) -> Any:
    """An istiod debug body (config dumps above all) as a capture writes it: Envoy's TLS
    certificates (client chain and key), generic secrets, session ticket keys and credential
    headers by structure, then every string by pattern (`redact`: a capture's TextMemo).
    Trusted CAs (validation contexts) stay."""
    return _strings(_debug_structure(body), redact)
