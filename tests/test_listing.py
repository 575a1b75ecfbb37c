"""Long evidence lists: given whole up to LISTED lines, then counted by kind with examples."""

from __future__ import annotations

from diagnostics.views.listing import EXAMPLES, LISTED, listed


def test_a_short_list_is_given_whole_in_order():
    items = [("local", f"10.0.0.{i}:5000 local pod p{i}") for i in range(LISTED)]
    assert listed(items, "endpoint", indent="  ") == [f"  {line}" for _, line in items]


def test_a_long_list_is_counted_by_kind_in_order_of_first_appearance_with_examples():
    items = [("at local pods of cluster1: HEALTHY", f"10.0.0.{i}:5000") for i in range(30)]
    items.insert(5, ("at east-west gateway gw of cluster2: HEALTHY", "35.1.1.1:15443"))
    out = listed(items, "endpoint")
    assert out == [
        "30 endpoints at local pods of cluster1: HEALTHY (e.g. 10.0.0.0:5000; 10.0.0.1:5000; "
        "… 28 more)",
        "1 endpoint at east-west gateway gw of cluster2: HEALTHY (e.g. 35.1.1.1:15443)"]
    assert EXAMPLES == 2


def test_counts_are_written_for_people():
    items = [("on network network1", f"endpoint p{i}") for i in range(12_345)]
    (line,) = listed(items, "endpoint pod")
    assert line.startswith("12,345 endpoint pods on network network1 (e.g. endpoint p0; ")
    assert line.endswith("… 12,343 more)")
