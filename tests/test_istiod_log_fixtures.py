"""Every real istiod line, source wording and Go error text in tests/fixtures/istiod-logs/ reads
as what it says.

The fixtures carry their source next to each line (real-lines.yaml: pasted by people running
Istio; format-strings.yaml: built from the format strings at a cited tag; go-errors.yaml: error
texts client-go programs printed), so a wording meshbot stops recognising fails here by name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from diagnostics.parse.go_errors import meaning
from diagnostics.parse.istiod_logs import (_PATTERNS, EVENT_WORDS, cluster_events, events_for,
                                           log_cluster_events, parse_log, servers_named,
                                           sync_status_from_log)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "istiod-logs"


def _load(name: str, key: str) -> list[dict]:
    return yaml.safe_load((FIXTURES / name).read_text())[key]


REAL = _load("real-lines.yaml", "lines")
SOURCE_WORDINGS = _load("format-strings.yaml", "lines")
GO_ERRORS = _load("go-errors.yaml", "errors")


def _ids(entries: list[dict]) -> list[str]:
    return [f"{i}-{e['source'].rsplit('/', 2)[-2]}-{e['source'].rsplit('/', 1)[-1][:24]}"
            for i, e in enumerate(entries)]


def test_every_fixture_names_its_public_source():
    for entry in REAL + SOURCE_WORDINGS + GO_ERRORS:
        assert entry["source"].startswith("https://github.com/"), entry
    assert len(REAL) >= 25 and len(GO_ERRORS) >= 20


def _check_record(entry: dict) -> None:
    records = parse_log(entry["text"])
    assert len(records) == 1, records  # a wrapped or multi-line record stays one record
    want = entry["expect"].get("record")
    if want:
        rec = records[0]
        assert (rec.level, rec.scope) == (want["level"], want["scope"]), rec
        for key, value in (want.get("labels") or {}).items():
            assert rec.labels.get(key) == value, rec.labels


def _check_event(entry: dict) -> None:
    expect = entry["expect"]
    events = cluster_events(parse_log(entry["text"]))
    if expect["kind"] == "none":
        assert events == [], events
        return
    assert [e.kind for e in events] == [expect["kind"]], events
    event = events[0]
    if "cause" in expect:
        assert event.cause == expect["cause"], event.error
    if "detail" in expect:
        assert event.meaning.detail == expect["detail"], event.error
    if "rejection" in expect:
        assert event.rejection == expect["rejection"]
    if "cluster" in expect:
        assert event.cluster == expect["cluster"]
    if "secret" in expect:
        assert event.secret == expect["secret"]
    if "identity" in expect:
        assert event.meaning.remote_reader is (expect["identity"] == "remote")
    if "server" in expect:
        host, port = expect["server"].rsplit(":", 1)
        assert (host, int(port)) in servers_named(event.error or "")
    if "status" in expect:
        assert sync_status_from_log(events) == expect["status"]


@pytest.mark.parametrize("entry", REAL, ids=_ids(REAL))
def test_real_line(entry):
    _check_record(entry)
    _check_event(entry)


@pytest.mark.parametrize("entry", SOURCE_WORDINGS, ids=_ids(SOURCE_WORDINGS))
def test_source_wording(entry):
    _check_record(entry)
    _check_event(entry)


@pytest.mark.parametrize("entry", GO_ERRORS, ids=_ids(GO_ERRORS))
def test_go_error_text(entry):
    found = meaning(entry["text"])
    expect = entry["expect"]
    assert found.cause == expect["cause"]
    if "detail" in expect:
        assert found.detail == expect["detail"]
    if "rejection" in expect:
        assert found.rejection == expect["rejection"]


# ------------------------------------------------------------------------------ attribution


def _reader_forbidden() -> list:
    entry = next(e for e in REAL if e["expect"].get("identity") == "remote")
    return cluster_events(parse_log(entry["text"]))


def test_reader_identity_attributes_a_line_only_when_one_remote_can_be_meant():
    events = _reader_forbidden()
    assert events_for(events, "cluster2", "istio-system/istio-remote-secret-cluster2",
                      ("172.18.0.3", 6443)) == []
    assert events_for(events, "cluster2", anonymous=True) == events


def test_own_identity_is_never_a_remote_cluster():
    local = [e for e in REAL if e["expect"].get("identity") == "local"]
    assert local
    for entry in local:
        events = cluster_events(parse_log(entry["text"]))
        assert events_for(events, "cluster2", anonymous=True) == []


def test_a_line_naming_another_server_is_not_attributed_by_identity():
    text = next(e["text"] for e in REAL if e["expect"].get("server") == "10.96.0.1:443")
    events = cluster_events(parse_log(text))
    assert events_for(events, "cluster2", server=("172.18.0.3", 6443), anonymous=True) == []
    assert events_for(events, "cluster2", server=("10.96.0.1", 443)) == events


def test_bare_secret_names_of_older_wordings_match_the_secret():
    text = ("2019-06-01T10:00:00.000001Z\terror\tFailed to add remote cluster from "
            "secret=istio-remote-secret-cluster2 for cluster_id=cluster9: kubeconfig is empty")
    events = cluster_events(parse_log(text))
    assert events_for(events, "cluster2", "istio-system/istio-remote-secret-cluster2") == []
    queue = cluster_events(parse_log(
        "2019-06-01T10:00:00.000001Z\terror\terror adding secret istio-remote-secret-cluster2: "
        "kubeconfig is empty"))
    assert events_for(queue, "cluster2", "istio-system/istio-remote-secret-cluster2") == queue


# --------------------------------------------------------------------- the framing on the way

def _cri(line: str, split: bool = False) -> str:
    """containerd/CRI-O's node log framing: `<RFC 3339> stream F|P <text>`."""
    ts = "2026-09-01T10:00:00.123456789Z stderr"
    if split and len(line) > 20:
        return f"{ts} P {line[:20]}\n{ts} F {line[20:]}"
    return f"{ts} F {line}"


FRAMINGS = {
    "cri": _cri,
    "cri-partial": lambda line: _cri(line, split=True),
    "docker-json": lambda line: json.dumps({"log": line + "\n", "stream": "stderr",
                                            "time": "2026-09-01T10:00:00.1Z"}),
    "kubectl-prefix": lambda line: f"[pod/istiod-7d9c6b5f8-x2x4q/discovery] {line}",
}
SINGLE_LINE = [e for e in REAL + SOURCE_WORDINGS if "\n" not in e["text"]]


@pytest.mark.parametrize("framing", sorted(FRAMINGS))
def test_runtime_framing_changes_nothing(framing):
    """Every single-line real line and source wording reads the same behind each framing."""
    for entry in SINGLE_LINE:
        plain = cluster_events(parse_log(entry["text"]))
        framed = cluster_events(parse_log(FRAMINGS[framing](entry["text"])))
        assert [(e.kind, e.cluster, e.cause) for e in framed] == \
            [(e.kind, e.cluster, e.cause) for e in plain], entry["text"]


def test_stackdriver_json_keys():
    text = json.dumps({"severity": "ERROR", "timestamp": "2026-09-01T10:00:00Z", "logger": "",
                       "message": "watch error in cluster cluster2: failed to list *v1.Pod: "
                                  "Unauthorized"})
    (event,) = cluster_events(parse_log(text))
    assert (event.record.level, event.kind, event.cause) == ("error", "watch_error",
                                                             "unauthorized")


@pytest.mark.parametrize("kind, pattern", _PATTERNS, ids=lambda p: getattr(p, "pattern", p))
def test_every_event_pattern_needs_one_of_the_event_words(kind, pattern):
    """A line without any of EVENT_WORDS is passed over before the patterns are tried: a
    pattern that could match without one would silently never match."""
    assert any(word in pattern.pattern for word in EVENT_WORDS), kind


def test_push_lines_are_no_events():
    log = "\n".join([
        "2026-11-20T08:32:14.039000Z\tinfo\tads\tCDS: PUSH request for node:sleep-1.sample "
        "resources:14 size:12.6kB",
        "2026-11-20T08:32:14.037000Z\tinfo\tads\tADS: new connection for node:sleep-1.sample-2"])
    assert cluster_events(parse_log(log)) == []


def test_a_log_is_read_for_events_as_its_records_are():
    """log_cluster_events passes over a log with no event word; with one, it reads it all."""
    texts = [e["text"] for e in REAL + SOURCE_WORDINGS]
    assert any(log_cluster_events(t) for t in texts)
    for text in texts + ["\n".join(texts)]:
        assert log_cluster_events(text) == cluster_events(parse_log(text))
