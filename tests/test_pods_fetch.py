"""Which pods are read whole (diagnostics/pods_fetch.py): the pickers on metadata alone.

The pickers decide from a metadata-only list and inputs already fetched; what a pod read whole
then shows is judged by the checks (tests/test_footprint.py follows the reads through
replay). Here the pickers meet a namespace larger than their pool."""

from __future__ import annotations

import asyncio

from diagnostics.inputs import SERVICES, TARGET_ENDPOINTSLICES, Scope
from diagnostics.pods_fetch import CLIENT_POOL_SIZE, client_pool

INJECTED = {"sidecar.istio.io/status": '{"revision":"default"}'}


def pod(name: str, app: str) -> dict:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "sample", "labels": {"app": app},
                         "annotations": dict(INJECTED)}}


def endpoint_slice(app: str, ready: dict[str, bool]) -> dict:
    return {"kind": "EndpointSlice", "metadata": {
        "name": f"{app}-x", "namespace": "sample", "labels": {"kubernetes.io/service-name": app}},
        "endpoints": [{"addresses": [f"10.0.0.{i}"], "conditions": {"ready": ok},
                       "targetRef": {"kind": "Pod", "name": name, "namespace": "sample"}}
                      for i, (name, ok) in enumerate(ready.items())]}


class Fetcher:
    """What a picker asks of its ClusterFetcher: the scope and inputs read alongside."""

    def __init__(self, scope: Scope, facts: dict):
        self.scope, self.facts = scope, facts

    async def optional(self, inp):
        return self.facts.get(inp)


def test_the_client_pool_passes_over_pods_a_slice_marks_not_ready():
    # 12 sleep pods, the first 11 by name crash-looping (their slice says not ready): the
    # Ready one is still in the pool, and the service's own pods never are.
    sleeps = [pod(f"sleep-{i:02d}", "sleep") for i in range(12)]
    hellos = [pod(f"helloworld-{i}", "helloworld") for i in range(30)]
    ready = {f"sleep-{i:02d}": i == 11 for i in range(12)}
    service = {"kind": "Service", "metadata": {"name": "helloworld", "namespace": "sample"},
               "spec": {"selector": {"app": "helloworld"}}}
    fetch = Fetcher(Scope("istio-system", "sample", "helloworld"),
                    {SERVICES: [service], TARGET_ENDPOINTSLICES: [endpoint_slice("sleep", ready)]})
    picked = asyncio.run(client_pool(fetch, sleeps + hellos))
    assert picked == {("sample", "sleep-11")}
    # without slices, readiness is unknown: the first CLIENT_POOL_SIZE by name are read
    fetch.facts[TARGET_ENDPOINTSLICES] = []
    picked = asyncio.run(client_pool(fetch, sleeps + hellos))
    assert picked == {("sample", f"sleep-{i:02d}") for i in range(CLIENT_POOL_SIZE)}


def test_from_names_the_one_pod_read_whole():
    fetch = Fetcher(Scope("istio-system", "sample", "helloworld", "helloworld-3"), {})
    pods = [pod(f"helloworld-{i}", "helloworld") for i in range(5)]
    assert asyncio.run(client_pool(fetch, pods)) == {("sample", "helloworld-3")}
