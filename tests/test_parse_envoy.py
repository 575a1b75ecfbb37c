"""Endpoint parsing against Istio's own test data (verbatim fixtures), in both casings."""

from __future__ import annotations

import json
from pathlib import Path

from diagnostics.parse.envoy import (active_clusters, eds_endpoints, field, load_assignments,
                                     outbound_cluster_name)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "istio"


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def istioctl_eds_table() -> set[tuple[str, str, str]]:
    """(endpoint, status, cluster) rows of `istioctl proxy-config eds` for the same dump."""
    rows = set()
    for line in (FIXTURES / "istioctl-pc-eds-table.txt").read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3:
            rows.add((parts[0], parts[1], parts[-1]))
    return rows


def test_snake_case_dump_matches_istioctl_eds_table():
    dump = load("envoy-config-dump-endpoints-only.json")
    ours = set()
    for cla in load_assignments(dump):
        name = field(cla, "cluster_name")
        for ep in eds_endpoints(dump, name) or []:
            ours.add((ep.target, ep.health, name))
    expected = istioctl_eds_table()
    assert expected and expected <= ours


def test_camel_case_output_parses_the_same_way():
    """`istioctl pc eds -o json` re-marshals to camelCase; the same endpoints must come out."""
    camel = load("istioctl-pc-eds-port-filter.json")
    wrapped = {"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
                            "dynamicEndpointConfigs": [{"endpointConfig": c} for c in camel]}]}
    name = outbound_cluster_name("istio-ingressgateway.istio-system.svc.cluster.local", 80)
    (ep,) = eds_endpoints(wrapped, name)
    assert ep.target == "10.244.0.176:8080"
    assert ep.health == "HEALTHY"
    assert ep.origin_cluster == "Kubernetes"  # last field of the istio workload metadata
    assert ep.weight == 1 and ep.priority == 0


def test_unknown_cluster_is_none_not_empty():
    dump = load("envoy-config-dump-endpoints-only.json")
    assert eds_endpoints(dump, "outbound|1||nope.default.svc.cluster.local") is None


def test_clusters_of_a_full_sidecar_dump():
    clusters = active_clusters(load("envoy-config-dump-sidecar-with-eds.json"))
    assert "agent" in clusters and "prometheus_stats" in clusters


def test_priority_locality_and_tls_mode_are_read():
    dump = {"configs": [{"@type": "x.ClusterLoadAssignment", "clusterName": "outbound|5000||hw",
                         "endpoints": [{"locality": {"region": "us-west1", "zone": "us-west1-a"},
                                        "priority": 1,
                                        "lbEndpoints": [{"endpoint": {"address": {"socketAddress": {
                                            "address": "35.190.20.30", "portValue": 15443}}},
                                            "healthStatus": "HEALTHY",
                                            "loadBalancingWeight": {"value": 2},
                                            "metadata": {"filterMetadata": {
                                                "envoy.transport_socket_match": {"tlsMode": "istio"},
                                                "istio": {"workload": "hw-v2;sample;hw;v2;cluster2"}}}}]}]}]}
    (ep,) = eds_endpoints(dump, "outbound|5000||hw")
    assert (ep.priority, ep.locality, ep.weight, ep.tls_mode, ep.origin_cluster) == \
        (1, "us-west1/us-west1-a", 2, "istio", "cluster2")
