"""Tests of the scenario generator (tests/meshgen) and of the generated scenario folders.

The folders under tests/scenarios/ are the test data of every check, so these tests guard their
consistency: each loads as a snapshot, regenerating yields the committed bytes, and the facts a
fault touches agree across files (pods ↔ syncz ↔ config_dump ↔ endpointShardz ↔ logs).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from diagnostics.catalog import default_catalog
from handlers.commands import COMMANDS
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from diagnostics.snapshot import Snapshot
from tests.meshgen.__main__ import expected_trees, main
from tests.meshgen.render import read_tree, render_files
from tests.meshgen.scenarios import SCENARIOS, build

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "tests" / "scenarios"
DEMO_DIR = ROOT / "examples" / "demo-mesh"
HELLO = "outbound|5000||helloworld.sample.svc.cluster.local"

REQUIRED = {
    "healthy", "healthy-istio-1-22", "healthy-istio-1-29", "healthy-three-replicas", "demo",
    "service-not-found", "no-remote-endpoints-scaled-zero", "no-remote-endpoints-not-ready",
    "remote-secret-key-mismatch", "remote-api-tls-1-22", "remote-api-tls-1-28",
    "remote-api-unreachable", "remote-api-dns", "remote-api-unauthorized",
    "remote-kubeconfig-invalid-localhost", "remote-kubeconfig-invalid-exec",
    "istiod-egress-networkpolicy", "root-cert-mismatch", "trust-domain-mismatch",
    "locality-expected", "locality-trafficdistribution", "locality-same-region-no-dr",
    "istiod-remote-missing", "primary-remote-healthy", "eastwest-gateway-missing",
    "eastwest-gateway-pending", "eastwest-gateway-network-label", "cross-network-gateway-missing",
    "pod-network-unset", "system-namespace-network-label", "remote-endpoints-unreachable",
    "service-mismatch-across-clusters", "two-faults-secret-and-root",
    "two-faults-pending-and-podnet",
}
NAMES = sorted(SCENARIOS)


def snap(name: str) -> Path:
    return SCENARIO_DIR / name / "snapshot"


def load_json(path: Path):
    return json.loads(path.read_text())


def pods(s: Snapshot) -> dict[tuple[str, str], dict]:
    """(cluster, '<pod>.<ns>') → pod object."""
    return {(c, f"{p['metadata']['name']}.{p['metadata']['namespace']}"): p
            for c, cs in s.clusters.items() for p in cs.list("pods")}


def has_sidecar(pod: dict) -> bool:
    spec = pod["spec"]
    return (any(c["name"] == "istio-proxy" for c in spec.get("containers", []))
            or any(c["name"] == "istio-proxy" and c.get("restartPolicy") == "Always"
                   for c in spec.get("initContainers", [])))


def endpoints_of(dump: dict, cluster_name: str = HELLO) -> list[tuple[str, int, int]]:
    """(address, port, priority) of one ClusterLoadAssignment in an istiod config_dump."""
    eds = next(c for c in dump["configs"] if c["@type"].endswith("EndpointsConfigDump"))
    for e in eds["dynamicEndpointConfigs"]:
        cla = e["endpointConfig"]
        if cla["clusterName"] == cluster_name:
            return [(lb["endpoint"]["address"]["socketAddress"]["address"],
                     lb["endpoint"]["address"]["socketAddress"]["portValue"], g.get("priority", 0))
                    for g in cla.get("endpoints", []) for lb in g["lbEndpoints"]]
    raise AssertionError(f"{cluster_name} not in config_dump")


def client_dump(root: Path, cluster: str) -> dict:
    """config_dump of the sleep pod of `cluster`, wherever its istiod is."""
    hits = [p for p in root.glob("clusters/*/istiod/*/config_dump/sleep-*.json")
            if _pod_cluster(root, p.name[:-len(".json")]) == cluster]
    assert len(hits) == 1, hits
    return load_json(hits[0])


def _pod_cluster(root: Path, proxy_id: str) -> str:
    for sync in root.glob("clusters/*/istiod/*/syncz.json"):
        for entry in load_json(sync):
            if entry["proxy"] == proxy_id:
                return entry["cluster_id"]
    raise AssertionError(proxy_id)


def root_fingerprints(s: Snapshot) -> dict[str, str]:
    out = {}
    for c, cs in s.clusters.items():
        secret = cs.get("secrets", "istio-system", "cacerts")
        pem = base64.b64decode(secret["data"]["root-cert.pem"])
        out[c] = x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex()
    return out


def claimed_cluster_id(pod: dict) -> str | None:
    """The ISTIO_META_CLUSTER_ID a proxy presents to istiod."""
    spec = pod["spec"]
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        if c["name"] == "istio-proxy":
            return next((e.get("value") for e in c.get("env", [])
                         if e["name"] == "ISTIO_META_CLUSTER_ID"), None)
    return None


def _istiod_env(cs) -> dict[str, str]:
    pods = [p for p in cs.list("pods", namespace="istio-system")
            if p["metadata"].get("labels", {}).get("app") == "istiod"]
    return {e["name"]: e.get("value") for e in pods[0]["spec"]["containers"][0]["env"]} \
        if pods else {}


def config_cluster(s: Snapshot, istiod_cluster: str) -> str:
    """The cluster an istiod reads as its own: its cluster, or (external control plane) the
    cluster its config-type secret istio-kubeconfig names."""
    cs = s.clusters[istiod_cluster]
    secret = cs.get("secrets", "istio-system", "istio-kubeconfig")
    if secret is None:
        return istiod_cluster
    cid = secret["metadata"]["annotations"]["networking.istio.io/cluster"]
    for name, other in s.clusters.items():
        cm = other.get("configmaps", "istio-system", "istio-sidecar-injector")
        if name != istiod_cluster and cm and \
                json.loads(cm["data"]["values"])["global"]["multiCluster"]["clusterName"] == cid:
            return name
    raise AssertionError(f"no cluster has id {cid}")


def answered_replicas(root: Path) -> list[Path]:
    """istiod replica folders with debug bodies: a replica that refused the capture's debug
    requests (refused.json) has none."""
    return [r for r in root.glob("clusters/*/istiod/*") if not (r / "refused.json").exists()]


def _proxy_crash_looping(pod: dict) -> bool:
    """An istio-proxy container that is not running (a crash-looping ztunnel) connects to
    no istiod."""
    return any(st.get("name") == "istio-proxy" and "running" not in (st.get("state") or {})
               for st in pod["status"].get("containerStatuses") or [])


def unservable_proxies(root: Path, s: Snapshot) -> set[str]:
    """Proxies no captured istiod can serve: rejected (logged 'Failed to authenticate client
    from <ip>'), in a cluster whose istiod has no Ready replica, gateways of a cluster that
    hosts an external control plane (they belong to another control plane), or crash-looping."""
    logs = "".join(p.read_text() for p in root.glob("clusters/*/logs/istio-system/*/discovery.log"))
    out = set()
    for name, cs in s.clusters.items():
        istiods = [p for p in cs.list("pods", namespace="istio-system")
                   if p["metadata"].get("labels", {}).get("app") == "istiod"]
        down = istiods and not any(c.get("type") == "Ready" and c.get("status") == "True"
                                   for p in istiods for c in p["status"].get("conditions", []))
        external = _istiod_env(cs).get("EXTERNAL_ISTIOD") == "true"
        # an istiod that refused the capture's debug requests: no syncz lists its proxies
        refused = any(root.glob(f"clusters/{name}/istiod/*/refused.json"))
        for pod in cs.list("pods"):
            ip = pod["status"].get("podIP")
            rejected = ip and f"Failed to authenticate client from {ip}:" in logs
            if down or external or refused or rejected or _proxy_crash_looping(pod):
                out.add(f"{pod['metadata']['name']}.{pod['metadata']['namespace']}")
    return out


# ------------------------------------------------------------------------------ registry


def test_registry_has_every_required_scenario():
    assert REQUIRED <= set(SCENARIOS)


@pytest.mark.parametrize("name", NAMES)
def test_expected_is_well_formed(name):
    exp = yaml.safe_load((SCENARIO_DIR / name / "expected.yaml").read_text())
    assert exp["command"] in COMMANDS  # a command meshbot knows
    assert exp["verdict"] in ("problem", "healthy", "expected", "inconclusive")
    assert set(exp["findings"]) <= set(default_catalog().entries)
    if exp["findings"]:
        assert exp["first"] in exp["findings"]
    else:
        assert exp["verdict"] in ("healthy", "inconclusive") and "first" not in exp
    if exp["verdict"] == "expected":
        assert "locality-lb-prefers-local" in exp["findings"]
    # a cluster is named by the Istio cluster id it carries (its folder name otherwise)
    names = [n for c in build(name)[0].clusters for n in (c.id, c.cp.istio_id) if n]
    assert exp.get("first_cluster") in (None, *names)


# ------------------------------------------------------------------------- generated files


@pytest.mark.parametrize("name", NAMES)
def test_scenario_loads_as_snapshot(name):
    s = Snapshot.open(snap(name))
    mesh, _ = build(name)
    assert s.captured_at == "2026-11-20T09:00:00Z"
    captured = [c for c in mesh.clusters if mesh.view is None or c.id in mesh.view]
    assert list(s.clusters) == [c.id for c in captured]
    for c in captured:
        cs = s.clusters[c.id]
        assert cs.kinds_captured and "pods" in cs.kinds_captured
        assert cs.list("pods") and (cs.list("services", namespace="sample") or not c.services)


def test_demo_mesh_loads():
    assert Snapshot.open(DEMO_DIR).cluster_names == ["cluster1", "cluster2"]


def test_committed_files_match_regeneration():
    """`python -m tests.meshgen --check` semantics: regenerating equals what is on disk."""
    assert main(["--out", str(SCENARIO_DIR), "--demo", str(DEMO_DIR), "--check"]) == 0


def test_rendering_is_deterministic():
    mesh, _ = build("remote-endpoints-unreachable")
    assert render_files(mesh) == render_files(build("remote-endpoints-unreachable")[0])


def test_check_reports_drift(tmp_path):
    out = tmp_path / "scenarios"
    assert main(["--out", str(out), "--only", "healthy"]) == 0
    assert main(["--out", str(out), "--only", "healthy", "--check"]) == 0
    target = next((out / "healthy").rglob("clusterz.json"))
    target.write_text(target.read_text().replace("synced", "timeout"))
    assert main(["--out", str(out), "--only", "healthy", "--check"]) == 1


# --------------------------------------------------------------------- cross-file invariants


@pytest.mark.parametrize("name", NAMES)
def test_config_dumps_belong_to_connected_sidecars(name):
    root = snap(name)
    s = Snapshot.open(root)
    all_pods = pods(s)
    for replica in answered_replicas(root):
        synced = {e["proxy"]: e["cluster_id"] for e in load_json(replica / "syncz.json")}
        for dump in (replica / "config_dump").glob("*.json"):
            proxy = dump.name[:-len(".json")]
            assert proxy in synced, f"{dump} not in {replica.name}'s syncz"
            pod = next((p for (_c, pid), p in all_pods.items() if pid == proxy), None)
            assert pod is not None, f"{dump}: no pod {proxy}"
            assert has_sidecar(pod) and claimed_cluster_id(pod) == synced[proxy]


@pytest.mark.parametrize("name", NAMES)
def test_every_sidecar_is_connected_exactly_once(name):
    root = snap(name)
    s = Snapshot.open(root)
    seen: dict[str, int] = {}
    for sync in root.glob("clusters/*/istiod/*/syncz.json"):
        for e in load_json(sync):
            seen[e["proxy"]] = seen.get(e["proxy"], 0) + 1
    unserved = unservable_proxies(root, s)
    # A sidecar that never started (istio-init failing) cannot connect; a scenario about
    # disconnected sidecars has one running that no istiod lists.
    expected = yaml.safe_load((SCENARIO_DIR / name / "expected.yaml").read_text())
    knobbed = any(not w.knobs.connected for c in build(name)[0].clusters for w in c.workloads)
    may_miss = "proxy-disconnected" in (expected.get("findings") or []) or knobbed
    for (cluster, proxy), pod in pods(s).items():
        if has_sidecar(pod) and pod["status"].get("phase") == "Running":
            count = seen.get(proxy)
            assert count == 1 or ((may_miss or proxy in unserved) and count is None), \
                (cluster, proxy)


def _shard_cluster(s: Snapshot, istiod_cluster: str, cid: str, clusterz: list[dict]) -> str:
    """Which snapshot cluster a shard id refers to (the id may be a wrong secret key)."""
    if clusterz[0]["id"] == cid:  # istiod's own (config) cluster, whatever its id
        return config_cluster(s, istiod_cluster)
    entry = next(e for e in clusterz if e["id"] == cid)
    name = entry["secretName"].split("/")[1]
    secret = s.clusters[istiod_cluster].get("secrets", "istio-system", name)
    if secret is None and "secrets" in s.clusters[istiod_cluster].withheld:
        return cid  # a capture without Secret reads; those scenarios key secrets by the id
    return secret["metadata"]["annotations"]["networking.istio.io/cluster"]


@pytest.mark.parametrize("name", NAMES)
def test_endpoint_shards_hold_pod_ips_of_their_cluster(name):
    root = snap(name)
    s = Snapshot.open(root)
    for replica in answered_replicas(root):
        istiod_cluster = replica.parent.parent.name
        clusterz = load_json(replica / "clusterz.json")
        synced = {e["id"] for e in clusterz if e["syncStatus"] == "synced"}
        for host, by_ns in load_json(replica / "endpointShardz.json").items():
            for shards in by_ns.values():
                for key, entries in shards["Shards"].items():
                    cid = key.split("/", 1)[1]
                    assert cid in synced, f"{replica}: shard {key} from a cluster not synced"
                    cluster = _shard_cluster(s, istiod_cluster, cid, clusterz)
                    if cluster not in s.clusters:  # a partial view: the peer was not captured
                        continue
                    cs = s.clusters[cluster]
                    pod_ips = {p["status"].get("podIP") for p in cs.list("pods")}
                    other = {a for sl in cs.list("endpointslices.discovery.k8s.io")
                             for e in sl.get("endpoints") or [] if "targetRef" not in e
                             for a in e["addresses"]}
                    for e in entries:
                        addrs = e.get("Addresses") or [e["Address"]]
                        assert set(addrs) <= pod_ips | other, (host, key, addrs)
                        assert e["Locality"]["ClusterID"] == cid


@pytest.mark.parametrize("name", NAMES)
def test_clusterz_starts_with_own_cluster(name):
    s = Snapshot.open(snap(name))
    for path in snap(name).glob("clusters/*/istiod/*/clusterz.json"):
        body = load_json(path)
        pod = s.clusters[path.parts[-4]].get("pods", "istio-system", path.parts[-2])
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert body[0] == {"id": env["CLUSTER_ID"], "secretName": "", "syncStatus": "synced"}


@pytest.mark.parametrize("name", NAMES)
def test_secrets_are_redacted(name):
    s = Snapshot.open(snap(name))
    for cs in s.clusters.values():
        for secret in cs.list("secrets"):
            data = secret.get("data") or {}
            for key, value in data.items():
                if key in ("token", "ca-key.pem", "tls.key", "key.pem"):
                    assert value == "REDACTED", (secret["metadata"]["name"], key)
            if secret["metadata"].get("labels", {}).get("istio/multiCluster") != "true":
                continue
            for value in data.values():
                cfg = yaml.safe_load(base64.b64decode(value))
                for user in cfg["users"]:
                    u = user["user"]
                    for field in ("token", "client-key-data", "client-certificate-data"):
                        if field in u:
                            assert u[field] == "REDACTED"
                    for k, v in (u.get("auth-provider") or {}).get("config", {}).items():
                        if k in ("access-token", "id-token", "refresh-token", "client-secret"):
                            assert v == "REDACTED"
                assert "certificate-authority-data" in cfg["clusters"][0]["cluster"]


def test_root_fingerprints_equal_when_healthy_and_differ_on_mismatch():
    healthy = root_fingerprints(Snapshot.open(snap("healthy")))
    assert len(set(healthy.values())) == 1
    broken = root_fingerprints(Snapshot.open(snap("root-cert-mismatch")))
    assert len(set(broken.values())) == 2


# ------------------------------------------------------------------------- fault evidence


def test_demo_client_views():
    c1 = endpoints_of(client_dump(DEMO_DIR, "cluster1"))
    c2 = endpoints_of(client_dump(DEMO_DIR, "cluster2"))
    assert c1 and all(a.startswith("10.10.") for a, _p, _pr in c1)
    assert ("34.120.10.20", 15443, 0) in c2
    assert any(a.startswith("10.20.") and p == 5000 for a, p, _pr in c2)
    assert not any(a.startswith("10.10.") for a, _p, _pr in c2)


def test_healthy_clients_reach_the_peer_gateway():
    root = snap("healthy")
    assert ("35.190.20.30", 15443, 0) in endpoints_of(client_dump(root, "cluster1"))
    assert ("34.120.10.20", 15443, 0) in endpoints_of(client_dump(root, "cluster2"))


@pytest.mark.parametrize("name", ["eastwest-gateway-missing", "eastwest-gateway-pending",
                                  "eastwest-gateway-network-label", "pod-network-unset"])
def test_raw_remote_pod_ip_when_gateway_or_network_unknown(name):
    eps = endpoints_of(client_dump(snap(name), "cluster1"))
    assert any(a.startswith("10.20.") for a, _p, _pr in eps)
    assert not any(p == 15443 for _a, p, _pr in eps)


@pytest.mark.parametrize("name", ["locality-expected", "locality-trafficdistribution"])
def test_locality_puts_remote_gateway_at_priority_one(name):
    eps = endpoints_of(client_dump(snap(name), "cluster1"))
    assert ("35.190.20.30", 15443, 1) in eps
    assert all(pr == 0 for a, _p, pr in eps if a.startswith("10.10."))


def test_same_region_without_dr_has_no_priorities():
    eps = endpoints_of(client_dump(snap("locality-same-region-no-dr"), "cluster1"))
    assert all(pr == 0 for _a, _p, pr in eps)


def test_outlier_detection_is_on_the_sidecar_cluster():
    dump = client_dump(snap("locality-expected"), "cluster1")
    cds = next(c for c in dump["configs"] if c["@type"].endswith("ClustersConfigDump"))
    cluster = next(c["cluster"] for c in cds["dynamicActiveClusters"] if c["cluster"]["name"] == HELLO)
    assert cluster["outlierDetection"]["consecutive5xx"] == 1


@pytest.mark.parametrize("name,fragment", [
    ("remote-api-tls-1-22", "x509: certificate signed by unknown authority"),
    ("remote-api-tls-1-28", "x509: certificate signed by unknown authority"),
    ("remote-api-unreachable", "dial tcp 172.18.0.3:6443: i/o timeout"),
    ("istiod-egress-networkpolicy", "dial tcp 172.18.0.3:6443: i/o timeout"),
    ("remote-api-dns", "lookup cluster2-api.example.internal on 10.96.0.10:53: no such host"),
    ("remote-api-unauthorized", "failed to list *v1.Pod: Unauthorized"),
    ("remote-kubeconfig-invalid-localhost", "dial tcp 127.0.0.1:6443: connect: connection refused"),
])
def test_unsynced_remote_shows_in_clusterz_shards_and_logs(name, fragment):
    root = snap(name)
    replica = next(root.glob("clusters/cluster1/istiod/*"))
    clusterz = {e["id"]: e["syncStatus"] for e in load_json(replica / "clusterz.json")}
    assert clusterz["cluster2"] == "timeout"
    shards = load_json(replica / "endpointShardz.json")
    assert "Kubernetes/cluster2" not in shards["helloworld.sample.svc.cluster.local"]["sample"]["Shards"]
    log = (root / "clusters/cluster1/logs/istio-system" / replica.name / "discovery.log").read_text()
    assert "watch error in cluster cluster2: " in log and fragment in log
    assert "remote cluster cluster2 failed to sync after 30s" in log


def test_exec_kubeconfig_is_refused_and_absent_from_clusterz():
    root = snap("remote-kubeconfig-invalid-exec")
    replica = next(root.glob("clusters/cluster1/istiod/*"))
    assert [e["id"] for e in load_json(replica / "clusterz.json")] == ["cluster1"]
    log = (root / "clusters/cluster1/logs/istio-system" / replica.name / "discovery.log").read_text()
    assert "Add cluster: create remote cluster failed: kubeconfig is not allowed: exec is not allowed" in log


def test_key_mismatch_registers_the_wrong_cluster_id():
    replica = next(snap("remote-secret-key-mismatch").glob("clusters/cluster1/istiod/*"))
    assert [e["id"] for e in load_json(replica / "clusterz.json")] == ["cluster1", "kind-cluster2"]
    eps = endpoints_of(client_dump(snap("remote-secret-key-mismatch"), "cluster1"))
    assert ("35.190.20.30", 15443, 0) in eps


def test_networkpolicy_blocks_only_the_remote_api_server():
    s = Snapshot.open(snap("istiod-egress-networkpolicy"))
    (policy,) = s.clusters["cluster1"].list("networkpolicies.networking.k8s.io")
    assert policy["spec"]["policyTypes"] == ["Egress"]
    cidrs = [t["ipBlock"]["cidr"] for rule in policy["spec"]["egress"] for t in rule["to"]
             if "ipBlock" in t]
    assert cidrs == ["172.18.0.2/32"]


def test_primary_remote_proxies_use_the_primary_istiod():
    root = snap("primary-remote-healthy")
    assert not (root / "clusters/cluster2/istiod").exists()
    syncz = [e for p in root.glob("clusters/cluster1/istiod/*/syncz.json") for e in load_json(p)]
    assert {e["cluster_id"] for e in syncz} == {"cluster1", "cluster2"}
    s = Snapshot.open(root)
    svc = s.clusters["cluster2"].get("services", "istio-system", "istiod")
    assert "selector" not in svc["spec"]


def test_istiod_remote_missing_remote_sees_only_local_endpoints():
    root = snap("istiod-remote-missing")
    assert list(root.glob("clusters/cluster2/istiod/*/syncz.json"))
    eps = endpoints_of(client_dump(root, "cluster2"))
    assert eps and all(a.startswith("10.20.") for a, _p, _pr in eps)


def test_unreachable_gateway_shows_in_access_log_and_admin_stats():
    root = snap("remote-endpoints-unreachable")
    (log,) = root.glob("clusters/cluster1/logs/sample/sleep-*/istio-proxy.log")
    lines = [line for line in log.read_text().splitlines() if " 503 UF " in line]
    assert lines and all('"35.190.20.30:15443"' in line for line in lines)
    (admin,) = root.glob("clusters/cluster1/proxies/sample/sleep-*/clusters.json")
    hosts = next(c for c in load_json(admin)["cluster_statuses"] if c["name"] == HELLO)["host_statuses"]
    gw = next(h for h in hosts if h["address"]["socket_address"]["address"] == "35.190.20.30")
    fails = {st["name"]: int(st.get("value", 0)) for st in gw["stats"]}
    assert fails["cx_connect_fail"] > 0


@pytest.mark.parametrize("name,field,present", [
    ("healthy-istio-1-22", "Address", True), ("healthy", "Addresses", True),
    ("healthy-istio-1-29", "Addresses", True), ("healthy-istio-1-22", "Addresses", False),
])
def test_endpoint_shard_address_field_by_version(name, field, present):
    replica = next(snap(name).glob("clusters/cluster1/istiod/*"))
    body = load_json(replica / "endpointShardz.json")
    entry = body["helloworld.sample.svc.cluster.local"]["sample"]["Shards"]["Kubernetes/cluster1"][0]
    assert (field in entry) is present


def test_version_dependent_syncz_and_networkz():
    old = next(snap("healthy-istio-1-22").glob("clusters/cluster1/istiod/*"))
    new = next(snap("healthy").glob("clusters/cluster1/istiod/*"))
    assert all("resources" not in e for e in load_json(old / "syncz.json"))
    assert all("resources" in e for e in load_json(new / "syncz.json"))
    assert all("HBONEPort" not in g for g in load_json(old / "networkz.json"))
    assert all("HBONEPort" in g for g in load_json(new / "networkz.json"))


def _networkz(mesh, cluster: str):
    files = render_files(mesh)
    return json.loads(next(v for k, v in files.items()
                           if k.startswith(f"clusters/{cluster}/istiod/") and k.endswith("networkz.json")))


def test_networkz_lists_only_gateways_istiod_can_see():
    assert [g["Network"] for g in _networkz(build("eastwest-gateway-missing")[0], "cluster2")] == ["network1"]
    mesh = build("healthy")[0]
    for c in mesh.clusters:
        c.eastwest.present = False
    assert _networkz(mesh, "cluster1") is None


def test_three_replicas_spread_proxies():
    for cluster in ("cluster1", "cluster2"):
        counts = [len(load_json(p)) for p in snap("healthy-three-replicas").glob(
            f"clusters/{cluster}/istiod/*/syncz.json")]
        assert counts == [1, 1, 1]   # helloworld, sleep, east-west gateway


@pytest.mark.parametrize("name", NAMES)
def test_istiod_log_lines_follow_the_text_layout(name):
    for log in snap(name).glob("clusters/*/logs/istio-system/*/discovery.log"):
        for line in log.read_text().splitlines():
            if not line.startswith("2026-"):
                continue          # continuation of a multi-line message (multierror)
            fields = line.split("\t")
            assert fields[0].endswith("Z") and len(fields[0]) == 27
            assert fields[1] in ("debug", "info", "warn", "error", "fatal")


def test_expected_trees_cover_demo_and_scenarios():
    trees = expected_trees(["healthy"], demo=True)
    assert set(trees) == {"scenario:healthy", "demo"}
    assert "expected.yaml" in trees["scenario:healthy"]
    assert read_tree(SCENARIO_DIR / "healthy") == trees["scenario:healthy"]


# ----------------------------------------------------------- knobs without a committed folder


def _files(mesh) -> dict[str, str]:
    return render_files(mesh)


def _one(files: dict[str, str], prefix: str, suffix: str) -> str:
    (value,) = [v for k, v in files.items() if k.startswith(prefix) and k.endswith(suffix)]
    return value


@pytest.mark.parametrize("auth,message", [
    ("client-certificate", "kubeconfig is not allowed: clientKey is not allowed"),
    ("auth-provider-gcp", "kubeconfig is not allowed: auth provider gcp is not allowed"),
])
def test_refused_auth_methods(auth, message):
    mesh = build("healthy")[0]
    mesh.cluster("cluster1").remote_secrets["cluster2"].auth = auth
    files = _files(mesh)
    assert message in _one(files, "clusters/cluster1/logs/", "discovery.log")
    clusterz = json.loads(_one(files, "clusters/cluster1/istiod/", "clusterz.json"))
    assert [e["id"] for e in clusterz] == ["cluster1"]


def test_oidc_auth_provider_is_allowed():
    mesh = build("healthy")[0]
    mesh.cluster("cluster1").remote_secrets["cluster2"].auth = "auth-provider-oidc"
    clusterz = json.loads(_one(_files(mesh), "clusters/cluster1/istiod/", "clusterz.json"))
    assert clusterz[1]["syncStatus"] == "synced"


def test_forbidden_endpointslices_hide_only_endpoints():
    mesh = build("healthy")[0]
    mesh.cluster("cluster1").remote_secrets["cluster2"].outcome = "forbidden"
    files = _files(mesh)
    log = _one(files, "clusters/cluster1/logs/", "discovery.log")
    assert 'cannot list resource "endpointslices" in API group "discovery.k8s.io"' in log
    assert "failed to list *v1.Pod" not in log
    registry = json.loads(_one(files, "clusters/cluster1/istiod/", "registryz.json"))
    hello = next(r for r in registry if r["hostname"].startswith("helloworld."))
    assert set(hello["clusterVIPs"]["Addresses"]) == {"cluster1", "cluster2"}
    shards = json.loads(_one(files, "clusters/cluster1/istiod/", "endpointShardz.json"))
    assert set(shards["helloworld.sample.svc.cluster.local"]["sample"]["Shards"]) == {"Kubernetes/cluster1"}


def test_refused_connection_wording():
    mesh = build("healthy")[0]
    mesh.cluster("cluster1").remote_secrets["cluster2"].outcome = "refused"
    log = _one(_files(mesh), "clusters/cluster1/logs/", "discovery.log")
    assert "dial tcp 172.18.0.3:6443: connect: connection refused" in log


def test_primary_without_secret_rejects_remote_proxies():
    mesh = build("primary-remote-healthy")[0]
    mesh.cluster("cluster1").remote_secrets["cluster2"].present = False
    files = _files(mesh)
    log = _one(files, "clusters/cluster1/logs/", "discovery.log")
    assert ('client claims to be in cluster "cluster2", but we only know about local cluster '
            '"cluster1" and remote clusters []') in log
    syncz = json.loads(_one(files, "clusters/cluster1/istiod/", "syncz.json"))
    assert {e["cluster_id"] for e in syncz} == {"cluster1"}


def test_remote_istiod_uses_endpoints_object_on_1_25():
    mesh = build("primary-remote-healthy")[0]
    for c in mesh.clusters:
        c.istio_version = "1.25.3"
    files = _files(mesh)
    endpoints = yaml.safe_load(files["clusters/cluster2/resources/istio-system/endpoints.yaml"])
    assert endpoints["items"][0]["subsets"][0]["addresses"] == [{"ip": "34.120.10.20"}]
    kinds = yaml.safe_load(files["snapshot.yaml"])["kinds"]["cluster2"]
    assert "endpoints" in kinds


def test_wrong_gateway_network_label_registers_the_wrong_network():
    mesh = build("healthy")[0]
    mesh.cluster("cluster2").eastwest.network_label = "network1"
    gws = json.loads(_one(_files(mesh), "clusters/cluster1/istiod/", "networkz.json"))
    assert {(g["Network"], g["Cluster"]) for g in gws} == {("network1", "cluster1"), ("network1", "cluster2")}


def test_headless_service_has_no_eds():
    mesh = build("healthy")[0]
    mesh.cluster("cluster1").service("helloworld").headless = True
    files = _files(mesh)
    dump = json.loads(next(v for k, v in files.items()
                           if k.startswith("clusters/cluster1/istiod/") and "/config_dump/sleep-" in k))
    cds = dump["configs"][1]["dynamicActiveClusters"]
    assert next(c["cluster"] for c in cds if c["cluster"]["name"] == HELLO)["type"] == "ORIGINAL_DST"
    assert all(e["endpointConfig"]["clusterName"] != HELLO for e in dump["configs"][2]["dynamicEndpointConfigs"])


def test_root_validity_knob():
    from datetime import datetime, timezone
    mesh = build("healthy")[0]
    for c in mesh.clusters:
        c.root_not_after = datetime(2026, 12, 1, tzinfo=timezone.utc)
    files = _files(mesh)
    secrets = yaml.safe_load(files["clusters/cluster1/resources/istio-system/secrets.yaml"])
    cacerts = next(s for s in secrets["items"] if s["metadata"]["name"] == "cacerts")
    cert = x509.load_pem_x509_certificate(base64.b64decode(cacerts["data"]["root-cert.pem"]))
    assert cert.not_valid_after_utc == datetime(2026, 12, 1, tzinfo=timezone.utc)


def test_a_big_services_endpoints_are_split_as_the_endpointslice_controller_splits_them():
    """kube-controller-manager writes at most 100 endpoints a slice (--max-endpoints-per-slice;
    the API refuses more than 1,000): a 600-pod helloworld is six slices of 100, named apart,
    each labelled with its Service, holding every endpoint once."""
    from tests.meshgen.scale import scaled_mesh

    files = render_files(scaled_mesh(600, 0.1))
    path = next(p for p in files if p.endswith("cluster1/resources/sample/"
                                               "endpointslices.discovery.k8s.io.json"))
    body = json.loads(files[path])
    items = body["items"] if isinstance(body, dict) else body
    slices = [s for s in items
              if s["metadata"]["labels"]["kubernetes.io/service-name"] == "helloworld"]
    assert [len(s["endpoints"]) for s in slices] == [100] * 6
    assert len({s["metadata"]["name"] for s in slices}) == 6
    targets = [e["targetRef"]["name"] for s in slices for e in s["endpoints"]]
    assert len(targets) == len(set(targets)) == 600


def test_a_big_meshs_pod_ips_are_addresses_an_api_server_accepts():
    """Hundreds of replicas on a node take further /24s of the cluster's pod range: every pod IP
    a valid, distinct IPv4 address (600 replicas once gave `10.10.2.5415`)."""
    import ipaddress

    from tests.meshgen.scale import scaled_mesh

    files = render_files(scaled_mesh(600, 0.1))
    for cluster in ("cluster1", "cluster2"):
        pods = [p for path, text in files.items()
                if path.startswith(f"clusters/{cluster}/resources/")
                and path.endswith(("/pods.json", "/pods.yaml"))
                for p in yaml.safe_load(text)["items"]]
        ips = [p["status"]["podIP"] for p in pods
               if p["status"].get("podIP") and not p["spec"].get("hostNetwork")]
        assert len(ips) > 600 and len(set(ips)) == len(ips)
        assert all(isinstance(ipaddress.ip_address(ip), ipaddress.IPv4Address) for ip in ips)


def test_pod_names_are_unique_in_their_namespace_as_generate_name_makes_them():
    """Five random characters collide a few times among 10,000 replicas; the API server never
    holds two pods of one name in a namespace (the controller asks again)."""
    from tests.meshgen.scale import scaled_mesh
    from tests.meshgen.topology import build_world

    for cluster in build_world(scaled_mesh(10000, 0.1)).clusters.values():
        names = [(p.namespace, p.name) for p in cluster.pods]
        assert len(names) > 10000 and len(set(names)) == len(names)
