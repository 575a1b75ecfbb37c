"""IST0170's oracle from Istio's own test data: which Services differ across two clusters."""

from __future__ import annotations

import json
from pathlib import Path

from diagnostics.checks.service_consistency import service_differences
from diagnostics.snapshot import iter_objects

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "istio"


def _services(rel: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in iter_objects(FIXTURES / rel)}


def test_matches_istioctl_multicluster_service_analyzer():
    grid = json.loads((FIXTURES / "analyzer-test-grid.json").read_text())
    (row,) = [r for r in grid["multicluster_rows"] if r["analyzer"] == "multicluster.ServiceAnalyzer"]
    one = _services(row["cluster1InputFiles"][0])
    two = _services(row["cluster2InputFiles"][0])
    flagged = {name for name in one.keys() & two.keys() if service_differences(one[name], two[name])}
    expected = {e["resource"]["name"] for e in row["expected"]}
    assert flagged == expected


def test_differences_are_named():
    a = {"spec": {"ports": [{"name": "http", "port": 5000}]}}
    b = {"spec": {"type": "NodePort", "clusterIP": "None",
                  "ports": [{"name": "web", "port": 5000, "appProtocol": "http"}, {"port": 9000}]}}
    assert service_differences(a, b) == [
        "type ClusterIP vs NodePort", "ClusterIP vs headless", "ports [5000] vs [5000, 9000]",
        "port 5000 named http vs web", "port 5000 protocol TCP vs http"]
    assert service_differences(a, a) == []
