"""Bodies decoded one top-level entry at a time (diagnostics/parse/json_items.py) read as
json.loads reads them, and every istiod input that is compacted that way gives what compacting
the whole body gives (the condition decode_itemwise states)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diagnostics import inputs
from diagnostics.inputs import IstiodDebug
from diagnostics.parse.istiod_debug import SHARD_COUNTS
from diagnostics.parse.json_items import decode_itemwise

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "istio"


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
