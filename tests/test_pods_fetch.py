"""What is read of a namespace's pods, and which are read whole (diagnostics/pods_fetch.py).

The pickers and readers decide from names, label-selected lists and inputs already fetched;
what a pod read whole then shows is judged by the checks (tests/test_footprint.py follows
the reads through replay). Here they meet a namespace larger than their pool, through a
fetcher that answers label and field selectors as the API server does (diagnostics/
selectors.py) and records what was asked."""

from __future__ import annotations

import asyncio

from diagnostics.facts import PodNetworks
from diagnostics.inputs import (ISTIO_CONFIGMAPS, NAMESPACES, SERVICES, TARGET_ENDPOINTSLICES,
                                TARGET_ROLE_PODS, ResourceNames, Resources, Scope)
from diagnostics.pods_fetch import (CLIENT_POOL_SIZE, MAX_UNLABELLED_READ, client_pool,
                                    pod_networks, role_pods, service_pods)
from diagnostics.selectors import field_predicate, label_predicate
from diagnostics.workloads import labels_of, name_of, namespace_of

NET = "topology.istio.io/network"
TLS_MODE = "security.istio.io/tlsMode"


def pod(name: str, app: str, labels: dict | None = None) -> dict:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "sample",
                         "labels": {"app": app, TLS_MODE: "istio", **(labels or {})},
                         "annotations": {"sidecar.istio.io/status": "{}"},
                         "ownerReferences": [{"kind": "ReplicaSet", "controller": True,
                                              "name": name.rsplit("-", 1)[0]}]}}


def endpoint_slice(app: str, ready: dict[str, bool]) -> dict:
    return {"kind": "EndpointSlice", "metadata": {
        "name": f"{app}-x", "namespace": "sample", "labels": {"kubernetes.io/service-name": app}},
        "endpoints": [{"addresses": [f"10.0.0.{i}"], "conditions": {"ready": ok},
                       "targetRef": {"kind": "Pod", "name": name, "namespace": "sample"}}
                      for i, (name, ok) in enumerate(ready.items())]}


def service(app: str) -> dict:
    return {"kind": "Service", "metadata": {"name": app, "namespace": "sample"},
            "spec": {"selector": {"app": app}}}


class Fetcher:
    """A ClusterFetcher over one namespace's pods: selectors answered as the API server
    does, inputs from `facts` (TARGET_INJECTED_NAMES and TARGET_ROLE_PODS read as pods_fetch
    reads them), every list and Table asked recorded as (kind, label selector, field
    selector)."""

    def __init__(self, scope: Scope, pods: list[dict], facts: dict | None = None):
        self.scope, self.pods, self.facts, self.asked = scope, pods, dict(facts or {}), []
        self.tasks: dict = {}

    async def optional(self, inp):
        return self.facts.get(inp)

    async def once(self, key, make):
        return await make()

    def need(self, inp) -> asyncio.Task:
        """Started at once and shared, as ClusterFetcher.need."""
        if inp not in self.tasks:
            self.tasks[inp] = asyncio.ensure_future(self._fetch(inp))
        return self.tasks[inp]

    async def _fetch(self, inp):
        if inp not in self.facts and isinstance(inp, Resources):
            self.facts[inp] = await self.list(inp.resource, self.scope.target_namespace,
                                              inp.label_selector)
        if inp not in self.facts and isinstance(inp, ResourceNames):
            self.facts[inp] = await self.names(inp.resource, self.scope.target_namespace,
                                               inp.label_selector)
        if inp not in self.facts and inp is TARGET_ROLE_PODS:
            self.facts[inp] = await role_pods(self)
        return self.facts[inp]

    def _selected(self, namespace, label_selector, field_selector=None) -> list[dict]:
        labels, fields = label_predicate(label_selector), field_predicate(field_selector)
        return [p for p in self.pods if (namespace is None or namespace_of(p) == namespace)
                and labels(p) and fields(p)]

    async def list(self, resource, namespace, label_selector, metadata_only=False,
                   field_selector=None):
        self.asked.append(("list", label_selector, field_selector))
        return self._selected(namespace, label_selector, field_selector)

    async def names(self, resource, namespace, label_selector):
        self.asked.append(("names", label_selector, None))
        return [name_of(p) for p in self._selected(namespace, label_selector)]


SCOPE = Scope("istio-system", "sample", "helloworld")


def test_the_client_pool_passes_over_pods_a_slice_marks_not_ready():
    # 12 sleep pods, the first 11 by name crash-looping (their slice says not ready): the
    # Ready one is still in the pool, and the service's own pods never are.
    sleeps = [pod(f"sleep-{i:02d}", "sleep") for i in range(12)]
    hellos = [pod(f"helloworld-{i}", "helloworld") for i in range(30)]
    ready = {f"sleep-{i:02d}": i == 11 for i in range(12)}
    slices = [endpoint_slice("sleep", ready),
              endpoint_slice("helloworld", {name_of(p): True for p in hellos})]
    fetch = Fetcher(SCOPE, sleeps + hellos, {SERVICES: [service("helloworld")],
                                            TARGET_ENDPOINTSLICES: slices})
    assert asyncio.run(client_pool(fetch)) == {("sample", "sleep-11")}
    # without slices, readiness is unknown: the first CLIENT_POOL_SIZE by name are read
    fetch = Fetcher(SCOPE, sleeps + hellos, {SERVICES: [service("helloworld")],
                                            TARGET_ENDPOINTSLICES: []})
    picked = asyncio.run(client_pool(fetch))
    assert picked == {("sample", f"sleep-{i:02d}") for i in range(CLIENT_POOL_SIZE)}
    # no metadata of the namespace is read: the injected pods the service does not select by
    # name, and the few pods labelled with a role
    assert (("names", f"{TLS_MODE},app!=helloworld", None) in fetch.asked)
    assert not [a for a in fetch.asked if a[0] == "list" and a[1] is None]


def test_a_selector_of_several_labels_names_the_pods_it_selects_apart():
    v1 = [pod(f"helloworld-v1-{i:02d}", "helloworld", {"version": "v1"}) for i in range(12)]
    v2 = pod("helloworld-v2-00", "helloworld", {"version": "v2"})  # not selected: a client
    svc = service("helloworld")
    svc["spec"]["selector"]["version"] = "v1"
    fetch = Fetcher(SCOPE, v1 + [v2], {SERVICES: [svc], TARGET_ENDPOINTSLICES: []})
    assert asyncio.run(client_pool(fetch)) == {("sample", "helloworld-v2-00")}
    assert ("names", "app=helloworld,version=v1", None) in fetch.asked


def test_without_a_service_its_app_pods_are_passed_over_by_their_label():
    hellos = [pod(f"helloworld-{i:02d}", "helloworld") for i in range(12)]
    fetch = Fetcher(SCOPE, hellos + [pod("sleep-1", "sleep")], {SERVICES: []})
    assert asyncio.run(client_pool(fetch)) == {("sample", "sleep-1")}
    assert ("names", f"{TLS_MODE},app!=helloworld", None) in fetch.asked


def test_gateways_and_ambient_pods_are_known_by_their_labels():
    gateway = pod("ingress-1", "ingress", {"istio": "ingressgateway"})
    ambient = pod("ztunnel-client-1", "client", {"istio.io/dataplane-mode": "ambient"})
    ambient["metadata"]["annotations"] = {"ambient.istio.io/redirection": "enabled"}
    del ambient["metadata"]["labels"][TLS_MODE]
    pods = [gateway, pod("sleep-1", "sleep")]
    fetch = Fetcher(SCOPE, pods, {SERVICES: [service("helloworld")]})
    assert asyncio.run(client_pool(fetch)) == {("sample", "sleep-1")}  # no gateway
    assert [name_of(p) for p in asyncio.run(role_pods(Fetcher(SCOPE, pods)))] == ["ingress-1"]
    # a pod enrolled in ambient: every pod's metadata is read, the captured one is a client
    fetch = Fetcher(SCOPE, pods + [ambient], {SERVICES: [service("helloworld")]})
    assert asyncio.run(client_pool(fetch)) == {("sample", "sleep-1"),
                                               ("sample", "ztunnel-client-1")}
    assert len(asyncio.run(role_pods(Fetcher(SCOPE, pods + [ambient])))) == 3
    # an ambient namespace: the same, without any pod labelled so
    del ambient["metadata"]["labels"]["istio.io/dataplane-mode"]
    namespace = {"metadata": {"name": "sample", "labels": {"istio.io/dataplane-mode": "ambient"}}}
    enrolled = Fetcher(SCOPE, pods + [ambient], {NAMESPACES: [namespace]})
    assert len(asyncio.run(role_pods(enrolled))) == 3


def test_from_names_the_one_pod_read_whole():
    fetch = Fetcher(Scope("istio-system", "sample", "helloworld", "helloworld-3"),
                    [pod(f"helloworld-{i}", "helloworld") for i in range(5)])
    assert asyncio.run(client_pool(fetch)) == {("sample", "helloworld-3")}
    assert fetch.asked == []


def _networks(pods: list[dict], slices: list[dict], facts: dict | None = None
              ) -> tuple[PodNetworks, list]:
    fetch = Fetcher(SCOPE, pods, {TARGET_ENDPOINTSLICES: slices, **(facts or {})})
    return asyncio.run(pod_networks(fetch)), fetch.asked


def _injector(network: str) -> dict:
    return {"metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
            "data": {"values": '{"global": {"network": "%s"}}' % network}}


def test_each_pods_network_comes_from_a_table_per_stated_network():
    hellos = [pod(f"helloworld-v1-abc-{i}", "helloworld", {NET: "network1"})
              for i in range(8)]
    odd = pod("helloworld-v2-def-0", "helloworld", {NET: "elsewhere"})
    known, asked = _networks(hellos + [odd, pod("sleep-1", "sleep")],
                             [endpoint_slice("helloworld", {name_of(p): True for p in hellos})],
                             {ISTIO_CONFIGMAPS: [_injector("network1")]})
    assert known.networks == {**{name_of(p): "network1" for p in hellos},
                              "helloworld-v2-def-0": "elsewhere"}
    assert known.proxies == {name_of(p) for p in hellos} | {"helloworld-v2-def-0", "sleep-1"}
    assert known.owners == {}  # every endpoint pod has its network
    # the stated network by names; the rest (one pod) by metadata; nothing read whole
    assert ("names", f"{NET}=network1", None) in asked
    assert ("list", f"{NET},{NET} notin (network1)", None) in asked
    assert not [a for a in asked if a[0] == "list" and a[1] is None]


def test_unlabelled_endpoint_pods_are_read_one_per_workload_for_their_owner():
    v1 = [pod(f"helloworld-v1-abc-{i}", "helloworld") for i in range(4)]
    v2 = [pod(f"helloworld-v2-def-{i}", "helloworld") for i in range(4)]
    web = [pod(f"web-{i}", "helloworld") for i in range(3)]
    many = [pod(f"helloworld-v{i}-xyz-0", "helloworld") for i in range(3, 3 + MAX_UNLABELLED_READ)]
    behind = v1 + v2 + web + many
    known, asked = _networks(behind, [endpoint_slice("helloworld",
                                                     {name_of(p): True for p in behind})])
    assert known.networks == {}
    assert sorted(known.owners)[:3] == ["helloworld-v1-abc-0", "helloworld-v2-def-0",
                                        "helloworld-v3-xyz-0"]
    assert len(known.owners) == MAX_UNLABELLED_READ
    assert all(labels_of(p)["app"] == "helloworld" for p in known.owners.values())
    reads = [a for a in asked if a[2]]
    assert len(reads) == MAX_UNLABELLED_READ and all(a[1] is None for a in reads)


def test_the_service_pods_are_read_only_where_none_is_ready():
    hellos = [pod(f"helloworld-{i}", "helloworld") for i in range(3)]
    pods = hellos + [pod("sleep-1", "sleep")]
    ready = {SERVICES: [service("helloworld")],
             TARGET_ENDPOINTSLICES: [endpoint_slice("helloworld", {"helloworld-0": True})]}
    fetch = Fetcher(SCOPE, pods, ready)
    assert asyncio.run(service_pods(fetch)) == [] and fetch.asked == []
    fetch.facts[TARGET_ENDPOINTSLICES] = [endpoint_slice("helloworld", {"helloworld-0": False})]
    assert asyncio.run(service_pods(fetch)) == hellos
    assert fetch.asked == [("list", "app=helloworld", None)]


def test_a_command_naming_no_service_reads_the_namespace_once():
    """control-plane and the digest judge networks mesh-wide from a namespace's few pods (the
    `default` one's): one metadata list answers both inputs, not eight Tables and lists."""
    pods = [pod("sleep-1", "sleep", {NET: "network1"}), pod("plain-1", "plain"),
            pod("ingress-1", "ingress", {"istio": "ingressgateway"})]
    del pods[1]["metadata"]["annotations"]  # not injected
    fetch = Fetcher(Scope("istio-system", "sample"), pods)

    async def both():
        return await pod_networks(fetch), await role_pods(fetch)

    known, roles = asyncio.run(both())
    assert known.networks == {"sleep-1": "network1"}
    assert known.proxies == {"sleep-1", "ingress-1"} and known.owners == {}
    assert [name_of(p) for p in roles] == ["ingress-1"]
    assert fetch.asked == [("list", None, None)]
