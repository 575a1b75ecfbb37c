"""The istio.io multicluster runbook by hand with kubectl, side by side with meshbot, in one run.

istio.io's "Troubleshooting Multicluster" page (docs/ops/diagnostic-tools/multicluster) has an
engineer check, in every cluster, the service and its endpoints, the pods and their nodes'
localities, DestinationRules, the root certificate, the remote secrets, the east-west gateway
Service and Gateway, the network labels and istiod's log. Its read-only kubectl commands are
run here with Debian's kubectl (.cache/debian-kubectl, installed by scripts/install-test-deps)
against a generated mesh served by `meshbot replay`, each in a fresh process, one after the
other as a person would; then `meshbot mesh why-local-only helloworld -n sample` once against
the same servers. Printed: CPU, wall time, API requests and bytes of each side, and the ratio.
(The runbook's istioctl and `kubectl exec` steps are not read-only kubectl and are left out:
the comparison favours the runbook.)

    .venv/bin/python bench/runbook.py [--pods 2000] [--clusters 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.mesh_scale import Point, Replay, run_once, served_mesh  # noqa: E402

KUBECTL = REPO / ".cache" / "debian-kubectl" / "usr" / "bin" / "kubectl"
NET = r"{.metadata.labels.topology\.istio\.io/network}"

#: The runbook's read-only kubectl commands, run in every cluster (its context).
RUNBOOK = [
    ["get", "service", "helloworld", "-n", "sample"],
    ["get", "endpointslices", "-n", "sample", "-l", "kubernetes.io/service-name=helloworld"],
    ["get", "pods", "-n", "sample", "-l", "app=helloworld", "-o", "wide"],
    ["get", "nodes", "-L", "topology.kubernetes.io/region", "-L", "topology.kubernetes.io/zone"],
    ["get", "destinationrules.networking.istio.io", "-A"],
    ["get", "configmap", "istio-ca-root-cert", "-n", "istio-system", "-o",
     r"jsonpath={.data.root-cert\.pem}"],
    ["get", "secrets", "-n", "istio-system", "-l", "istio/multiCluster=true"],
    ["get", "service", "-n", "istio-system", "-l", "istio=eastwestgateway"],
    ["get", "gateways.networking.istio.io", "-n", "istio-system", "-o", "yaml"],
    ["get", "namespace", "istio-system", "-o", f"jsonpath={NET}"],
    ["get", "pods", "-n", "sample", "-L", "topology.istio.io/network"],
    ["logs", "-n", "istio-system", "-l", "app=istiod", "-c", "discovery", "--tail", "5000"],
]


def run_kubectl(replay: Replay, context: str, args: list[str]) -> dict:
    """One kubectl command in a fresh process: its CPU, wall time and exit code."""
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    started = time.perf_counter()
    proc = subprocess.Popen([str(KUBECTL), "--kubeconfig", str(replay.kubeconfig), "--context",
                             context, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": time.perf_counter() - started,
            "ok": proc.returncode == 0}


def runbook(replay: Replay, contexts: list[str]) -> dict:
    offset = replay.offset()
    runs = [run_kubectl(replay, ctx, args) for ctx in contexts for args in RUNBOOK]
    time.sleep(0.05)
    records = replay.records_since(offset)
    return {"side": "kubectl runbook", "commands": len(runs),
            "failed": sum(not r["ok"] for r in runs),
            "cpu_s": round(sum(r["cpu_s"] for r in runs), 3),
            "wall_s": round(sum(r["wall_s"] for r in runs), 3), "api_calls": len(records),
            "bytes": sum(r.bytes for r in records)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, default=2000)
    ap.add_argument("--clusters", type=int, default=2)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--meshes", type=Path, help="keep generated meshes here and reuse them")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not KUBECTL.is_file():
        sys.exit(f"{KUBECTL} is missing: run ./scripts/install-test-deps")
    point = Point(args.pods, args.clusters)
    with served_mesh(point, 0.1, args.meshes, args.latency_ms) as (replay, _):
        contexts = [f"cluster{i}" for i in range(1, point.clusters + 1)]
        by_hand = runbook(replay, contexts)
        bot = run_once(replay, REPO, "why-local-only helloworld -n sample", 120)
    bot = {"side": "meshbot why-local-only", "commands": 1,
           "failed": 0 if bot["verdict"] in ("healthy", "problem", "expected") else 1,
           **{k: bot[k] for k in ("cpu_s", "wall_s", "api_calls", "bytes")}}
    ratio = {k: round(by_hand[k] / bot[k], 2) if bot[k] else None
             for k in ("cpu_s", "wall_s", "api_calls", "bytes")}
    if args.json:
        for row in (by_hand, bot):
            print(json.dumps({"pods": point.pods, "clusters": point.clusters, **row}))
        print(json.dumps({"pods": point.pods, "clusters": point.clusters,
                          "ratio_kubectl_to_meshbot": ratio}))
        return
    print(f"{point.pods} helloworld pods per cluster, {point.clusters} clusters")
    print(f"  {'':24} {'cmds':>4} {'cpu s':>7} {'wall s':>7} {'calls':>6} {'MB read':>8}")
    for row in (by_hand, bot):
        failed = f"  ({row['failed']} failed)" if row["failed"] else ""
        print(f"  {row['side']:24} {row['commands']:4d} {row['cpu_s']:7.2f} {row['wall_s']:7.2f} "
              f"{row['api_calls']:6d} {row['bytes'] / 2**20:8.1f}{failed}")
    print("  kubectl / meshbot: " + ", ".join(f"{k} x{v}" for k, v in ratio.items()))


if __name__ == "__main__":
    main()
