"""What ztunnel and istiod show in an ambient mesh: each ztunnel's admin /config_dump and log,
istiod's syncz entries for ztunnels, waypoints and the east-west gateway, its networkz, its
/debug/mesh (the ambient profile) and /debug/ambientz, and the warning it logs when a network
has no usable gateway.

Computed as istiod does (istio/istio pilot/pkg/serviceregistry/ambient/multicluster.go):
a remote cluster's Service reaches a ztunnel only when it is global (meshConfig
serviceScopeConfigs) in every cluster, and only with AMBIENT_ENABLE_MULTI_NETWORK; a remote
network's workloads of a global Service become one "split horizon" workload routed through that
network's east-west gateway, or nothing (`No network gateway found for network X`) when istiod
knows no usable gateway. Dump shapes follow istio/ztunnel src/admin.rs and src/state/*.rs:
lists since ztunnel 1.23, maps keyed `<network>/<address>` in 1.22. Log lines follow ztunnel's
format strings (src/proxy/metrics.rs `connection failed`, src/xds/client.rs) and a published
1.23.2 log (istio/istio#53306).
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from tests.meshgen.ambient_knobs import ambient_namespace
from tests.meshgen.ambient_objects import mesh_config_changes
from tests.meshgen.ambient_world import (HBONE_PORT, ZTUNNEL, InfraPod, captured, cluster_ip,
                                         eastwest_address, eastwest_network, eastwest_pods,
                                         global_in, infra_pods, node_agents, usable_gateway,
                                         wds_uid)
from tests.meshgen.istiod_view import PUSH_TIME, ControlPlane
from tests.meshgen.model import version_tuple
from tests.meshgen.naming import hexid, number, ts, ts_micro, uid
from tests.meshgen.topology import ISTIO_NS, ClusterWorld, Pod, Service, World

PROXY_TYPES = {"ztunnel": "ztunnel", "waypoint": "waypoint", "eastwest": "waypoint"}
WDS_TYPES = ("type.googleapis.com/istio.workload.Address",
             "type.googleapis.com/istio.security.Authorization")
ENVOY_TYPES = ("type.googleapis.com/envoy.config.cluster.v3.Cluster",
               "type.googleapis.com/envoy.config.listener.v3.Listener",
               "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment")


def _dump(doc: object) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def files(world: World, cps: dict[str, ControlPlane], rendered: dict[str, str]) -> dict[str, str]:
    """Files an ambient mesh adds or changes, keyed by snapshot path."""
    out: dict[str, str] = {}
    for cid, cw in world.clusters.items():
        if not cw.spec.ambient.enabled:
            continue
        cp = cps.get(cid)
        for z in node_agents(cw, ZTUNNEL):
            if z.ready:  # a crash-looping ztunnel answers no port-forward: nothing captured
                out[f"clusters/{cid}/ztunnel/{z.name}/config_dump.json"] = _dump(
                    ztunnel_dump(world, cps, cw, z))
            out[f"clusters/{cid}/logs/{ISTIO_NS}/{z.name}/istio-proxy.log"] = \
                ztunnel_log(world, cw, z)
        if cp is not None:
            out.update(_istiod_files(world, cps, cp, rendered))
    return out


# ------------------------------------------------------------------------------ ztunnel


def _workload(cw: ClusterWorld, pod: Pod, services: list[str], lists: bool) -> dict:
    w = pod.workload
    d = {"uid": wds_uid(cw.id, pod.namespace, pod.name), "workloadIps": [pod.ip],
         "protocol": "HBONE" if captured(cw, pod) else "TCP", "name": pod.name,
         "namespace": pod.namespace, "trustDomain": cw.spec.trust_domain,
         "serviceAccount": pod.service_account, "network": cw.spec.network,
         "workloadName": pod.deployment, "workloadType": "deployment",
         "canonicalName": w.app if w else pod.deployment,
         "canonicalRevision": (w.version if w else None) or "latest", "node": pod.node.name,
         "status": "Healthy" if pod.ready else "Unhealthy", "clusterId": cw.id,
         "locality": {"region": pod.node.region, "zone": pod.node.zone}}
    if lists:
        d.update({"services": services, "capacity": 1, "networkMode": "Standard"})
    return d


def _split_horizon(net: str, gw: tuple[str, str, str], svc_key: str, td: str, count: int,
                   lists: bool) -> dict:
    """The coalesced workload for a remote network (ambient/multicluster.go
    createSplitHorizonWorkload): no address, routed through the network's gateway."""
    cluster, name, address = gw
    workload_uid = f"{net}/SplitHorizonWorkload/{ISTIO_NS}/{name}/{address}/{svc_key}"
    dest = f"{net}/{address}" if address[0].isdigit() else f"{ISTIO_NS}/{address}"
    d = {"uid": workload_uid, "workloadIps": [], "protocol": "HBONE", "name": workload_uid,
         "namespace": svc_key.split("/", 1)[0], "trustDomain": td, "network": net,
         "workloadType": "pod", "status": "Healthy", "clusterId": cluster,
         "networkGateway": {"destination": dest, "hboneMtlsPort": HBONE_PORT}}
    if lists:
        d.update({"services": [svc_key], "capacity": count, "networkMode": "Standard"})
    return d


def network_gateway(world: World, cp: ControlPlane, network: str) -> tuple[str, str, str] | None:
    """(cluster, gateway name, address) of a usable gateway of `network` that `cp` reads."""
    for spec in world.mesh.clusters:
        if not cp.knows_cluster(spec.id):
            continue
        gw = usable_gateway(spec)
        if gw and gw[0] == network:
            return spec.id, spec.ambient.eastwest.name, gw[1]
    return None


def remote_shares(world: World, cp: ControlPlane, cw: ClusterWorld, svc_name: str,
                  namespace: str) -> list[tuple[ClusterWorld, Service]]:
    """The remote clusters' instances of a Service that this istiod coalesces: only with
    AMBIENT_ENABLE_MULTI_NETWORK, only when the Service is global in every cluster."""
    if not cw.spec.ambient.multi_network or version_tuple(cw.spec.istio_version) < (1, 27):
        return []
    local = cw.service(namespace, svc_name)
    if local is not None and not global_in(cw.spec, svc_name):
        return []
    out = []
    for key, rcw, vis in cp.registries:
        if rcw.id == cw.id or vis != "full":
            continue
        rsvc = rcw.service(namespace, svc_name)
        if rsvc is not None and global_in(rcw.spec, svc_name) \
                and rcw.spec.network != cw.spec.network and any(e.ready for e in rsvc.endpoints):
            out.append((rcw, rsvc))
    return out


def missing_gateways(world: World, cp: ControlPlane) -> list[str]:
    """Networks whose global workloads this istiod would coalesce but for which it knows no
    usable east-west gateway: it logs `No network gateway found for network <net>`."""
    cw, nets = cp.world, set()
    for svc in cw.services:
        if not ambient_namespace(cw.spec, svc.spec.namespace):
            continue
        for rcw, _ in remote_shares(world, cp, cw, svc.spec.name, svc.spec.namespace):
            if network_gateway(world, cp, rcw.spec.network) is None:
                nets.add(rcw.spec.network)
    return sorted(nets)


def _service(cw: ClusterWorld, svc: Service, endpoints: dict[str, dict], lists: bool) -> dict:
    s = svc.spec
    host = svc.hostname
    d: dict = {"name": s.name, "namespace": s.namespace, "hostname": host,
               "vips": [f"{cw.spec.network}/{svc.cluster_ip}"] if svc.cluster_ip else [],
               "ports": {str(p.port): p.target_port for p in s.ports},
               "endpoints": endpoints, "subjectAltNames": [], "ipFamilies": "IPv4",
               "canonical": True}
    if s.traffic_distribution:  # PreferClose: ambient/services.go preferSameZoneLoadBalancer
        d["loadBalancer"] = {"routingPreferences": ["Network", "Region", "Zone"],
                             "mode": "Failover", "healthPolicy": "OnlyHealthy"}
    wp = cw.spec.ambient.waypoint
    if wp is not None and wp.present and s.name in cw.spec.ambient.waypoint_for:
        d["waypoint"] = {"destination": f"{wp.namespace}/{wp.name}.{wp.namespace}.svc.cluster.local",
                         "hboneMtlsPort": HBONE_PORT}
    return d


def _endpoint(workload_uid: str, svc: Service, healthy: bool = True) -> dict:
    return {"workloadUid": workload_uid, "status": "Healthy" if healthy else "Unhealthy",
            "port": {str(p.port): p.target_port for p in svc.spec.ports}}


def ztunnel_dump(world: World, cps: dict[str, ControlPlane], cw: ClusterWorld,
                 z: InfraPod) -> dict:
    """The admin /config_dump of one ztunnel (certificates left out, as capture drops them)."""
    spec, cp = cw.spec, cps.get(cw.id)
    lists = version_tuple(spec.istio_version) >= (1, 23)
    workloads: list[dict] = []
    services: list[dict] = []
    for svc in cw.services:
        if not ambient_namespace(spec, svc.spec.namespace):
            continue
        key = f"{svc.spec.namespace}/{svc.hostname}"
        eps = {}
        for ep in svc.endpoints:
            if ep.pod is not None:
                eps[wds_uid(cw.id, ep.pod.namespace, ep.pod.name)] = _endpoint(
                    wds_uid(cw.id, ep.pod.namespace, ep.pod.name), svc, ep.ready)
        for rcw, rsvc in (remote_shares(world, cp, cw, svc.spec.name, svc.spec.namespace)
                          if cp else []):
            gw = network_gateway(world, cp, rcw.spec.network)
            if gw is None:
                continue
            count = sum(1 for e in rsvc.endpoints if e.ready)
            sh = _split_horizon(rcw.spec.network, gw, key, spec.trust_domain, count, lists)
            workloads.append(sh)
            eps[sh["uid"]] = _endpoint(sh["uid"], svc)
        services.append(_service(cw, svc, eps, lists))
    for pod in cw.pods:
        if pod.role == "app" and ambient_namespace(spec, pod.namespace):
            names = [f"{s.spec.namespace}/{s.hostname}" for s in cw.services
                     if any(e.pod is pod for e in s.endpoints)]
            workloads.append(_workload(cw, pod, names, lists))
    state = {}
    for pod in cw.pods:
        if pod.node.name == z.node.name and captured(cw, pod):
            state[uid(cw.id, "Pod", pod.namespace, pod.name)] = {
                "info": {"name": pod.name, "namespace": pod.namespace,
                         "serviceAccount": pod.service_account,
                         "trustDomain": spec.trust_domain}, "state": "Up"}
    body = {"config": {"clusterDomain": "cluster.local", "clusterId": spec.id,
                       "localNode": z.node.name,
                       "network": spec.network if spec.ambient.ztunnel_network else "",
                       "proxyMode": "Shared", "xdsAddress": "https://istiod.istio-system.svc:15012"},
            "policies": [], "stagedServices": {},
            "version": {"buildStatus": "Clean", "gitRevision": hexid(40, "ztunnel", spec.istio_version),
                        "istioVersion": spec.istio_version, "rustVersion": "1.89.0",
                        "version": hexid(40, "ztunnel", spec.istio_version)},
            "workloadState": state}
    if lists:
        body["workloads"] = sorted(workloads, key=lambda w: w["uid"])
        body["services"] = sorted(services, key=lambda s: (s["hostname"], s["namespace"]))
    else:  # ztunnel 1.22: maps keyed by network address (istio/ztunnel#923)
        body["workloads"] = {f"{w.get('network', '')}/{(w['workloadIps'] or [''])[0]}": w
                             for w in workloads}
        body["services"] = {s["vips"][0] if s["vips"] else s["hostname"]: s for s in services}
    return body


def ztunnel_log(world: World, cw: ClusterWorld, z: InfraPod) -> str:
    """ztunnel's log: start-up and xDS lines; a crash-looping one cannot reach istiod; a client
    ztunnel whose peer network's gateway is a hostname it cannot resolve says so per request."""
    t0 = PUSH_TIME - timedelta(minutes=11)
    lines = [f"{ts_micro(t0)}\tinfo\tztunnel\tversion: ztunnel {cw.spec.istio_version}",
             f"{ts_micro(t0 + timedelta(milliseconds=4))}\tinfo\tapp\tin-pod mode enabled"]
    if not z.ready:
        for i in range(5):
            t = t0 + timedelta(seconds=2 ** i)
            lines.append(f"{ts_micro(t)}\twarn\txds{{id=1}}\tXDS client connection error: gRPC "
                         "connection error connecting to https://istiod.istio-system.svc:15012: "
                         "status: Unknown, message: \"client error (Connect)\", source: tcp "
                         f"connect error: Connection refused (os error 111), retrying in "
                         f"{10 * 2 ** i}ms")
        return "\n".join(lines) + "\n"
    lines.append(f"{ts_micro(t0 + timedelta(milliseconds=40))}\tinfo\txds{{id=1}}\t"
                 "Stream established")
    for i, url in enumerate(WDS_TYPES):
        lines.append(f"{ts_micro(t0 + timedelta(milliseconds=41 + i))}\tinfo\txds{{id=1}}\t"
                     f"received response\ttype_url=\"{url}\" size=12 removes=0")
    lines += _client_errors(world, cw, z)
    return "\n".join(lines) + "\n"


def _client_errors(world: World, cw: ClusterWorld, z: InfraPod) -> list[str]:
    """`unknown network gateway` for each request the node's sleep pod sent toward a peer
    network whose gateway is known only by a hostname ztunnel cannot resolve
    (istio/ztunnel src/state.rs fetch_network_gateway)."""
    sleep = next((p for p in cw.pods if p.deployment == "sleep" and p.node.name == z.node.name
                  and captured(cw, p)), None)
    svc = cw.service(sleep.namespace, "helloworld") if sleep else None
    if sleep is None or svc is None:
        return []
    out = []
    for spec in world.mesh.clusters:
        address = eastwest_address(spec)
        if spec.id == cw.id or not address or address[0] != "Hostname" \
                or usable_gateway(spec) is None:
            continue
        for i in range(3):
            t = PUSH_TIME + timedelta(minutes=20, seconds=7 * i)
            out.append(f"{ts_micro(t)}\twarn\taccess\tconnection failed\tsrc.addr={sleep.ip}:"
                       f"{41000 + 17 * i} dst.addr={svc.cluster_ip}:{svc.spec.ports[0].port} "
                       f"direction=\"outbound\" error=\"unknown network gateway: network gateway "
                       f"{address[1]} not found\"")
    return out


# ------------------------------------------------------------------------------ istiod


def _istiod_files(world: World, cps: dict[str, ControlPlane], cp: ControlPlane,
                  rendered: dict[str, str]) -> dict[str, str]:
    out = {}
    cid = cp.world.id
    # A crash-looping ztunnel is connected to no istiod; a waypoint whose readiness fails
    # still runs its Envoy, connected.
    infra = [p for p in infra_pods(cp.world) if p.kind in PROXY_TYPES
             and (p.ready or p.kind == "waypoint")]
    warnings = missing_gateways(world, cp)
    for n, replica in enumerate(cp.replicas):
        base = f"clusters/{cid}/istiod/{replica.name}"
        mine = [p for p in infra if number(p.name) % len(cp.replicas) == n]
        if f"{base}/syncz.json" in rendered:
            body = json.loads(rendered[f"{base}/syncz.json"]) or []
            out[f"{base}/syncz.json"] = _dump(body + [_syncz(cp, p) for p in mine])
        if f"{base}/mesh.json" in rendered:
            out[f"{base}/mesh.json"] = _dump(mesh_config_changes(
                json.loads(rendered[f"{base}/mesh.json"]), cp.spec.istio_version))
        if f"{base}/networkz.json" in rendered:
            known = json.loads(rendered[f"{base}/networkz.json"]) or []
            extra = _networkz(world, cp)
            out[f"{base}/networkz.json"] = _dump((known + extra) or None)
        if f"{base}/syncz.json" in rendered and cp.version >= (1, 23):
            out[f"{base}/ambientz.json"] = _dump(ambientz(world, cps, cp))
        log = f"clusters/{cid}/logs/{replica.namespace}/{replica.name}/discovery.log"
        if warnings and log in rendered:
            t = PUSH_TIME + timedelta(seconds=1)
            out[log] = rendered[log] + "".join(
                f"{ts_micro(t + timedelta(milliseconds=3 * i))}\twarn\tambient\tNo network "
                f"gateway found for network {net}\n" for i, net in enumerate(warnings))
    return out


def _syncz(cp: ControlPlane, p: InfraPod) -> dict:
    d = {"cluster_id": cp.world.id, "proxy": f"{p.name}.{p.namespace}",
         "proxy_type": PROXY_TYPES[p.kind], "istio_version": cp.spec.istio_version}
    if cp.version >= (1, 23):
        types = WDS_TYPES if p.kind == ZTUNNEL else ENVOY_TYPES
        push = f"{ts(PUSH_TIME)}/{7 + len(p.kind)}"
        d["resources"] = {t: {"sent": push + uid("nonce", cp.id, p.name, t),
                              "acked": push + uid("nonce", cp.id, p.name, t),
                              "sentTime": ts_micro(PUSH_TIME + timedelta(milliseconds=120))}
                          for t in types}
    return d


def _networkz(world: World, cp: ControlPlane) -> list[dict]:
    """The ambient east-west gateway Services istiod lists as network gateways: a network
    label and port 15008 (kube/controller/network.go getGatewayDetails: Port 0, HBONEPort)."""
    out = []
    for key, rcw, vis in cp.registries:
        ew = rcw.spec.ambient.eastwest
        address = eastwest_address(rcw.spec)
        network = eastwest_network(rcw.spec)
        if vis != "full" or not rcw.spec.ambient.enabled or not eastwest_pods(rcw) \
                or not network or not address or address[1] == cluster_ip(rcw.spec, ISTIO_NS, ew.name):
            continue
        out.append({"Network": network, "Cluster": key, "Addr": address[1], "Port": 0,
                    "HBONEPort": HBONE_PORT, "ServiceAccount": {"Namespace": ISTIO_NS,
                                                                "Name": ew.name}})
    return out


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def ambientz(world: World, cps: dict[str, ControlPlane], cp: ControlPlane) -> dict:
    """/debug/ambientz (pilot/pkg/xds/debug.go): the WDS resources istiod computed, protojson,
    addresses written as the bytes of their text (so base64 of `10.10.1.12`)."""
    workloads, services = [], []
    z = node_agents(cp.world, ZTUNNEL)[0]
    dump = ztunnel_dump(world, cps, cp.world, z)
    raw_w = dump["workloads"] if isinstance(dump["workloads"], list) else list(dump["workloads"].values())
    raw_s = dump["services"] if isinstance(dump["services"], list) else list(dump["services"].values())
    for w in raw_w:
        item = {"uid": w["uid"], "name": w["name"], "namespace": w["namespace"],
                "addresses": [_b64(a) for a in w["workloadIps"]], "network": w["network"],
                "clusterId": w["clusterId"], "trustDomain": w["trustDomain"],
                "services": {s: {"ports": []} for s in w.get("services", [])}}
        gw = w.get("networkGateway")
        if gw:
            net, _, addr = gw["destination"].partition("/")
            item["networkGateway"] = ({"address": {"network": net, "address": _b64(addr)}}
                                      if addr[:1].isdigit() else
                                      {"hostname": {"namespace": net, "hostname": addr}})
            item["networkGateway"]["hboneMtlsPort"] = gw["hboneMtlsPort"]
        workloads.append(item)
    for s in raw_s:
        services.append({"name": s["name"], "namespace": s["namespace"],
                         "hostname": s["hostname"],
                         "addresses": [{"network": v.split("/", 1)[0],
                                        "address": _b64(v.split("/", 1)[1])} for v in s["vips"]]})
    return {"policies": None, "services": services, "workloads": workloads}
