"""Bodies decoded one top-level entry at a time (diagnostics/parse/json_items.py) read as
json.loads reads them, and every istiod input that is compacted that way gives what compacting
the whole body gives (the condition decode_itemwise states). Where a compaction decodes istiod's
own shape typed, that gives the same again, and declines every other shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diagnostics import inputs
from diagnostics.inputs import IstiodDebug
from diagnostics.parse.istiod_debug import SHARD_COUNTS
from diagnostics.parse.json_items import decode_compacted, decode_itemwise

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "istio"


def _items(body):
    """A reduction that keeps everything, item by item: what decode_itemwise hands over."""
    if isinstance(body, list):
        return [("item", x) for x in body]
    if isinstance(body, dict):
        return [("key", k, v) for k, v in body.items()]
    return [("whole", body)]


@pytest.mark.parametrize("text", [
    "[]", " [ ]\n", "{}", "[1, 2 ,3]", '{"a": 1, "b": [1, {"c": 2}]}', "null", ' "x" ', "7",
    '[{"a": "]"}, "x,y", [[]], {}]', '{"k\\"q": {"x": "}"}, "\\u00e9": null}',
    '\t[\r\n{"proxy": "a.ns"}\n]\n'])
def test_reads_what_json_loads_reads(text):
    assert decode_itemwise(text, _items) == _items(json.loads(text))


@pytest.mark.parametrize("text", [
    "[1,]", "[1 2]", '{"a" 1}', "{a: 1}", "[1]x", "[", '{"a": 1,}', "", "[1] [2]",
    '{"a": 1 "b": 2}'])
def test_refuses_what_json_loads_refuses(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        decode_itemwise(text, _items)


def _compacting_inputs() -> list[IstiodDebug]:
    return [v for v in vars(inputs).values()
            if isinstance(v, IstiodDebug) and v.compact is not None]


def _name(inp: IstiodDebug) -> str:
    return getattr(inp.compact, "reduce", inp.compact).__name__


@pytest.mark.parametrize("fixture", [
    "constructed/debug-syncz.json", "constructed/debug-endpointShardz-multicluster.json",
    "istioctl-proxy-status-xds-syncz-response.json"])
@pytest.mark.parametrize("inp", _compacting_inputs(), ids=_name)
def test_each_compaction_maps_a_body_entry_by_entry(inp, fixture):
    text = (FIXTURES / fixture).read_text()
    assert decode_itemwise(text, inp.compact) == inp.compact(json.loads(text))


def test_the_compacting_inputs_are_the_big_ones():
    assert {(i.endpoint, _name(i)) for i in _compacting_inputs()} == {
        ("syncz", "parse_syncz"), ("syncz", "syncz_census"),
        ("endpointShardz", "compact_endpoint_shardz")}


@pytest.mark.parametrize("fixture", ["constructed/debug-endpointShardz-multicluster.json"])
def test_shard_counts_drop_every_endpoint_as_it_is_decoded(fixture):
    """SHARD_COUNTS' object_hook stands in for each endpoint (what makes its decoding cheap):
    if istiod renamed the keys it knows endpoints by, this fails rather than slowing down."""
    body = json.loads((FIXTURES / fixture).read_text(), object_hook=SHARD_COUNTS.object_hook)
    endpoints = [e for by_ns in body.values() for shards in by_ns.values()
                 for eps in shards["Shards"].values() for e in eps]
    assert endpoints and all(e == {} for e in endpoints)
    assert all(shards["ServiceAccounts"] for by_ns in body.values() for shards in by_ns.values())


# ------------------------------------------------------------------ typed decoding (msgspec)

def _typed_inputs() -> list[IstiodDebug]:
    return [i for i in _compacting_inputs() if getattr(i.compact, "typed", None)]


def test_the_big_bodies_have_a_typed_decoder():
    assert {i.endpoint for i in _typed_inputs()} == {"syncz", "endpointShardz"}


def _bodies(endpoint: str) -> list[Path]:
    """Every body of `endpoint` the project holds: the fixtures, and every istiod of every
    scenario, the demo mesh and the replay fixture (meshgen writes istiod's shape)."""
    found = sorted(HERE.glob(f"**/istiod/*/{endpoint}.json"))
    found += sorted((HERE.parent / "examples").glob(f"**/istiod/*/{endpoint}.json"))
    return found + sorted(FIXTURES.glob(f"constructed/debug-{endpoint}*.json"))


@pytest.mark.parametrize("inp", _typed_inputs(), ids=_name)
def test_typed_decoding_gives_what_the_spelling_blind_parser_gives(inp):
    bodies = _bodies(inp.endpoint)
    assert len(bodies) > 100
    typed = 0
    for path in bodies:
        text = path.read_text()
        expected = inp.compact(json.loads(text))
        found = inp.compact.typed(text)
        assert found is None or found == expected, path
        assert decode_compacted(text, inp.compact) == expected, path
        typed += found is not None and bool(expected)
    assert typed >= len(bodies) * 0.9  # istiod's own shape is read typed, not the slow way


SYNCZ_ENTRY = {"cluster_id": "c1", "proxy": "a-1.ns", "proxy_type": "sidecar",
               "istio_version": "1.22.0", "cluster_sent": "n1", "cluster_acked": "n1",
               "endpoint_sent": "n2"}


@pytest.mark.parametrize("body", [
    [{**SYNCZ_ENTRY, "clusterId": "c2"}],  # another spelling: the blind lookup's business
    [{"proxyId": "a.ns", "clusterID": "c1", "istioVersion": "1.21.0"}],
    [{**SYNCZ_ENTRY, "resources": {"type.googleapis.com/envoy.config.cluster.v3.Cluster":
                                   {"sent": "n", "acked": "n", "error": "x"}}}],
    [{**SYNCZ_ENTRY, "istio_version": 123}],
    [SYNCZ_ENTRY, "junk"],
    {"resources": []},  # CSDS
    json.dumps([SYNCZ_ENTRY]),  # the list as a JSON string (a re-marshalled body)
])
def test_typed_syncz_declines_other_shapes_which_read_as_before(body):
    text = json.dumps(body)
    assert inputs.SYNCZ.compact.typed(text) is None
    for inp in (inputs.SYNCZ, inputs.SYNCZ_CENSUS):  # the census skips what it does not read
        assert inp.compact.typed(text) in (None, inp.compact(json.loads(text)))
        assert decode_compacted(text, inp.compact) == inp.compact(json.loads(text))


@pytest.mark.parametrize("body", [
    [SYNCZ_ENTRY, {**SYNCZ_ENTRY, "proxy": "", "cluster_id": None},
     {**SYNCZ_ENTRY, "istio_version": None, "proxy_version": "1.9.0", "route_acked": None},
     {"proxy": "sidecar~10.0.0.1~b-2.ns~ns.svc.cluster.local", "istio_version": ""}],
    None, [],
])
def test_typed_syncz_reads_the_corners_as_the_parser_does(body):
    text = json.dumps(body)
    for inp in (inputs.SYNCZ, inputs.SYNCZ_CENSUS):
        assert inp.compact.typed(text) == inp.compact(json.loads(text))


@pytest.mark.parametrize("body", [
    {"h.ns.svc.cluster.local": {"ns": {"Shards": {"Kubernetes/c1": [{"Address": "x"}]},
                                       "serviceAccounts": {}}}},  # another spelling
    {"h.ns.svc.cluster.local": {"ns": {"shards": {"Kubernetes/c1": [{}]}}}},
    {"h.ns.svc.cluster.local": {"ns": {"Shards": {"Kubernetes/c1": [None, {}]}}}},
    {"h.ns.svc.cluster.local": ["ns"]},
    [],
])
def test_typed_shardz_declines_other_shapes_which_read_as_before(body):
    text = json.dumps(body)
    compaction = inputs.ENDPOINT_SHARDZ.compact
    assert compaction.typed(text) is None
    assert decode_compacted(text, compaction) == compaction(json.loads(text))


@pytest.mark.parametrize("body", [
    {"h.ns.svc.cluster.local": {"ns": {"Shards": {"Kubernetes/c1": [{"Address": "x"}, {}],
                                                  "External/c2": None, "c3": []},
                                       "ServiceAccounts": {"spiffe://a": {}}},
                                "other": None},
     "g.ns.svc.cluster.local": None},
    None, {},
])
def test_typed_shardz_reads_the_corners_as_the_parser_does(body):
    text = json.dumps(body)
    compaction = inputs.ENDPOINT_SHARDZ.compact
    assert compaction.typed(text) == compaction(json.loads(text))


def test_malformed_bodies_are_refused_either_way():
    for inp in _typed_inputs():
        assert inp.compact.typed("[{") is None
        with pytest.raises(ValueError):
            decode_compacted("[{", inp.compact)
