"""Render a mesh model into a `meshbot.snapshot/v1` folder (contract C4).

`render_files` returns every file as text keyed by relative path, so writing and drift checking
(`--check`) share one code path. Output is deterministic: sorted keys, fixed timestamps, derived
names and addresses.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from tests.meshgen import (ambient_ztunnel, config_dump, debug_bodies, envoy_admin, istiod_extras,
                           logs, workload_faults)
from tests.meshgen.istiod_view import control_planes, connected_to
from tests.meshgen.k8s_objects import CAPTURED, cluster_objects
from diagnostics.replay.responses import forbidden_message
from tests.meshgen.model import Mesh
from tests.meshgen.topology import build_world

FORMAT = "meshbot.snapshot/v1"
#: Depth below which a body is written one resource per line (see dump_json).
FLAT = {"config_dump": 4, "endpointShardz": 5, "registryz": 2}


# libyaml's emitter when present (tens of times faster on large meshes; same text).
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    """SafeDumper that writes multi-line strings as literal blocks, like kubectl does."""

    def ignore_aliases(self, data: object) -> bool:   # kubectl never emits anchors
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and not any(line != line.rstrip() for line in value.split("\n")):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def dump_yaml(doc: object) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=4096,
                     allow_unicode=True)


def dump_json(doc: object, flat_below: int | None = None) -> str:
    """Sorted keys, indent 2; containers nested deeper than `flat_below` go on one line.

    Large bodies (config_dump, endpointShardz, registryz) keep one resource per line, written
    compactly: one line per resource in a diff, half the size of fully indented JSON.
    """
    if flat_below is None:
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"
    return _dump(doc, 0, flat_below) + "\n"


def _dump(obj: object, depth: int, flat_below: int) -> str:
    if depth >= flat_below or not isinstance(obj, (dict, list)) or not obj:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"))
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(obj, dict):
        items = [f"{inner}{json.dumps(k)}: {_dump(obj[k], depth + 1, flat_below)}"
                 for k in sorted(obj)]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    items = [f"{inner}{_dump(v, depth + 1, flat_below)}" for v in obj]
    return "[\n" + ",\n".join(items) + f"\n{pad}]"


def _resource_files(prefix: str, objs: dict[str, list[dict]], compact: bool = False
                    ) -> dict[str, str]:
    """One `kind: List` file per namespace (or `_cluster`) and resource key: YAML as kubectl
    prints it, or with `compact` JSON with one object per line."""
    files: dict[str, str] = {}
    for key, items in objs.items():
        by_ns: dict[str, list[dict]] = {}
        for obj in items:
            by_ns.setdefault(obj["metadata"].get("namespace") or "_cluster", []).append(obj)
        for ns, group in by_ns.items():
            group.sort(key=lambda o: o["metadata"]["name"])
            doc = {"apiVersion": "v1", "kind": "List", "items": group,
                   "metadata": {"resourceVersion": ""}}
            if compact:
                files[f"{prefix}/resources/{ns}/{key}.json"] = dump_json(doc, 2)
            else:
                files[f"{prefix}/resources/{ns}/{key}.yaml"] = dump_yaml(doc)
    return files


def render_files(mesh: Mesh) -> dict[str, str]:
    world = build_world(mesh)
    cps = control_planes(world)
    files: dict[str, str] = {}
    kinds: dict[str, list[str]] = {}
    for cid, cw in world.clusters.items():
        objs = cluster_objects(world, cps, cw)
        left_out = set(mesh.uncaptured) | set(mesh.withheld)
        objs = {k: v for k, v in objs.items() if k not in left_out}
        kinds[cid] = sorted((set(CAPTURED) | set(objs)) - left_out)
        files.update(_resource_files(f"clusters/{cid}", objs, mesh.compact_files))
    for cid, cp in cps.items():
        for replica in cp.replicas:
            base = f"clusters/{cid}/istiod/{replica.name}"
            bodies = {
                "syncz": workload_faults.syncz(world, cp, debug_bodies.syncz(cp, replica)),
                "clusterz": debug_bodies.clusterz(cp),
                "networkz": debug_bodies.networkz(cp),
                "endpointShardz": debug_bodies.endpoint_shardz(cp),
                "registryz": debug_bodies.registryz(cp),
                "mesh": debug_bodies.mesh_config(cp),
                "connections": debug_bodies.connections(cp, replica),
            }
            extras = istiod_extras.replica_files(cp, bodies)  # drops refused bodies
            files.update({f"{base}/{name}": text for name, text in extras.items()})
            for name, body in bodies.items():
                flat = 1 if mesh.compact_files else FLAT.get(name)
                files[f"{base}/{name}.json"] = dump_json(body, flat)
            for pod in cp.proxies[replica.name] if not istiod_extras.refused(cp) else []:
                if pod.proxy_type == "sidecar" and (mesh.config_dumps_for is None
                                                    or pod.deployment in mesh.config_dumps_for):
                    files[f"{base}/config_dump/{pod.proxy_id}.json"] = dump_json(
                        config_dump.config_dump(cp, pod), FLAT["config_dump"])
            files[f"clusters/{cid}/logs/{replica.namespace}/{replica.name}/discovery.log"] = \
                logs.discovery_log(world, cp, replica)
    for cid, cw in world.clusters.items():
        for pod in cw.pods:
            if pod.deployment != "sleep" or pod.proxy_type != "sidecar":
                continue
            link = connected_to(cps, pod)
            if link is None:
                continue
            cp, _replica = link
            if cp.spec.access_log:
                files[f"clusters/{cid}/logs/{pod.namespace}/{pod.name}/istio-proxy.log"] = \
                    logs.proxy_log(world, cp, pod)
            if mesh.proxy_admin:
                files[f"clusters/{cid}/proxies/{pod.namespace}/{pod.name}/clusters.json"] = \
                    dump_json(envoy_admin.clusters_json(world, cp, pod))
    files.update(workload_faults.log_files(world, cps))
    files.update(ambient_ztunnel.files(world, cps, files))
    captured = [c.id for c in mesh.clusters if mesh.view is None or c.id in mesh.view]
    files = {p: t for p, t in files.items()
             if not p.startswith("clusters/") or p.split("/")[1] in captured}
    meta = {"format": FORMAT, "captured_at": mesh.captured_at, "clusters": captured,
            "kinds": {c: k for c, k in kinds.items() if c in captured},
            "generator": "tests/meshgen (synthetic test data)"}
    if mesh.id_origins:
        meta["id_origins"] = dict(mesh.id_origins)
    if mesh.withheld:
        meta["withheld"] = {c: {k: _refusal(k) for k in mesh.withheld} for c in captured}
    files["snapshot.yaml"] = dump_yaml(meta)
    return dict(sorted(files.items()))


def _refusal(kind: str) -> str:
    """What the API server told the capture (Secrets are listed in the Istio namespace only)."""
    return forbidden_message("list", "", kind, "istio-system" if kind == "secrets" else None)


def write_files(files: dict[str, str], out_dir: Path) -> None:
    """Replace `out_dir` with exactly `files`."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    for rel, text in files.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def write_snapshot(mesh: Mesh, out_dir: str | Path) -> None:
    write_files(render_files(mesh), Path(out_dir))


def read_tree(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*")) if p.is_file()}
