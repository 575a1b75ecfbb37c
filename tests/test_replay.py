"""`meshbot replay`: a snapshot served as read-only Kubernetes API servers, over real HTTP.

Clients are the real ones: aiohttp for raw protocol checks, the official kubernetes Python client
(including its WebSocket port-forward) and kubectl binaries as subprocesses.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException
from kubernetes.stream import portforward

from diagnostics.replay.listing import encode_continue
from diagnostics.replay.runner import (ReplayServers, ReplayThread, run_replay_cli, start_replay,
                                       withhold_kinds)
from diagnostics.snapshot import Snapshot

ISTIOD = "istiod-6d5f7c9b8-abcde"
SLEEP = "sleep-7f8d9c6b5-q2w4e"
HELLO = "helloworld-v1-5c6d7e8f9-h1k2m"
TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")


# --- helpers ---------------------------------------------------------------------------------

@pytest.fixture
async def servers(replay_mini: Snapshot) -> AsyncIterator[ReplayServers]:
    running = await start_replay(replay_mini)
    yield running
    await running.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def fetch(http: aiohttp.ClientSession, url: str, method: str = "GET",
                **kwargs) -> tuple[int, str, bytes]:
    async with http.request(method, url, **kwargs) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


async def get_json(http: aiohttp.ClientSession, url: str, **kwargs) -> tuple[int, dict]:
    status, ctype, body = await fetch(http, url, **kwargs)
    assert ctype.startswith("application/json"), (ctype, body)
    return status, json.loads(body)


def assert_status(body: dict, code: int, reason: str) -> None:
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert (body["code"], body["reason"]) == (code, reason)
    assert body["message"]


def fixture_file(replay_mini_dir: Path, cluster: str, *parts: str) -> bytes:
    return replay_mini_dir.joinpath("clusters", cluster, *parts).read_bytes()


# --- discovery ---------------------------------------------------------------------------------

async def test_discovery_documents(servers: ReplayServers, http: aiohttp.ClientSession) -> None:
    base = servers.urls["cluster1"]
    _, version = await get_json(http, base + "/version")
    assert version["gitVersion"] == "v1.31.2" and version["major"] == "1"
    _, api = await get_json(http, base + "/api")
    assert api["kind"] == "APIVersions" and api["versions"] == ["v1"]
    _, apis = await get_json(http, base + "/apis")
    groups = {g["name"]: [v["version"] for v in g["versions"]] for g in apis["groups"]}
    assert groups["apps"] == ["v1"]
    assert groups["telemetry.istio.io"] == ["v1"]          # only in the snapshot, not a known kind
    assert groups["networking.istio.io"] == ["v1", "v1beta1"]
    _, core = await get_json(http, base + "/api/v1")
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"] == {"name": "pods", "singularName": "pod", "namespaced": True,
                               "kind": "Pod", "verbs": ["get", "list"], "shortNames": ["po"]}
    assert by_name["nodes"]["namespaced"] is False
    assert {"pods/log", "pods/portforward"} <= set(by_name)
    _, apps = await get_json(http, base + "/apis/apps/v1")
    assert apps["groupVersion"] == "apps/v1"
    assert "deployments" in {r["name"] for r in apps["resources"]}
    status, body = await get_json(http, base + "/apis/nope.example.com/v1")
    assert status == 404
    assert_status(body, 404, "NotFound")


# --- list and get ------------------------------------------------------------------------------

async def test_list_is_shaped_like_the_api_server(servers: ReplayServers,
                                                  http: aiohttp.ClientSession) -> None:
    status, body = await get_json(http, servers.urls["cluster1"] + "/api/v1/pods")
    assert status == 200
    assert body["kind"] == "PodList" and body["apiVersion"] == "v1"
    assert body["metadata"] == {"resourceVersion": "1510"}
    names = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in body["items"]]
    assert names == [("istio-system", ISTIOD), ("sample", HELLO), ("sample", SLEEP)]
    assert all("kind" not in p and "apiVersion" not in p for p in body["items"])


async def test_a_list_comes_chunked_as_the_api_server_sends_it(
        servers: ReplayServers, http: aiohttp.ClientSession) -> None:
    """The API server sets no Content-Length on a list: beyond Go's 2 KB buffer it is chunked
    (what makes a client hold a big list twice if it joins the chunks: live.py _read_body)."""
    base = servers.urls["cluster1"]
    async with http.get(base + "/api/v1/pods") as resp:
        assert resp.headers.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in resp.headers and len(await resp.read()) > 2048
    async with http.get(base + "/api/v1/namespaces/nope/pods") as resp:
        assert int(resp.headers["Content-Length"]) == len(await resp.read()) <= 2048


async def test_get_namespaced_cluster_scoped_and_grouped(servers: ReplayServers,
                                                         http: aiohttp.ClientSession) -> None:
    base = servers.urls["cluster1"]
    _, deploy = await get_json(http, base + "/apis/apps/v1/namespaces/sample/deployments/sleep")
    assert (deploy["kind"], deploy["apiVersion"]) == ("Deployment", "apps/v1")
    _, node = await get_json(http, base + "/api/v1/nodes/cluster1-control-plane")
    assert node["kind"] == "Node"
    _, ns = await get_json(http, base + "/api/v1/namespaces/istio-system")
    assert ns["metadata"]["labels"]["topology.istio.io/network"] == "network1"
    _, namespaces = await get_json(http, base + "/api/v1/namespaces")
    assert [n["metadata"]["name"] for n in namespaces["items"]] == ["istio-system", "sample"]
    status, missing = await get_json(http, base + "/apis/apps/v1/namespaces/sample/deployments/x")
    assert status == 404 and missing["message"] == 'deployments.apps "x" not found'
    assert missing["details"] == {"name": "x", "kind": "deployments", "group": "apps"}


async def test_objects_are_served_at_their_stored_version_too(
        servers: ReplayServers, http: aiohttp.ClientSession) -> None:
    base = servers.urls["cluster1"] + "/apis/networking.istio.io/{}/namespaces/sample/" \
                                      "destinationrules"
    for version in ("v1", "v1beta1"):
        _, listed = await get_json(http, base.format(version))
        assert listed["apiVersion"] == f"networking.istio.io/{version}"
        assert [d["metadata"]["name"] for d in listed["items"]] == ["helloworld"]
        _, one = await get_json(http, base.format(version) + "/helloworld")
        assert one["apiVersion"] == f"networking.istio.io/{version}"


async def test_selectors(servers: ReplayServers, http: aiohttp.ClientSession) -> None:
    base = servers.urls["cluster1"]

    async def names(path: str, **params: str) -> list[str]:
        status, body = await get_json(http, base + path, params=params)
        assert status == 200, body
        return [o["metadata"]["name"] for o in body["items"]]

    assert await names("/api/v1/secrets", labelSelector="istio/multiCluster=true") == [
        "istio-remote-secret-cluster2"]
    assert await names("/api/v1/pods", labelSelector="app in (sleep,istiod)") == [ISTIOD, SLEEP]
    assert await names("/api/v1/pods", fieldSelector="metadata.namespace=sample") == [HELLO, SLEEP]
    assert await names("/api/v1/pods", fieldSelector=f"metadata.name=={SLEEP}") == [SLEEP]
    assert await names("/api/v1/pods", fieldSelector="status.podIP!=10.10.0.8,"
                                                     "metadata.namespace=sample") == [SLEEP]
    status, body = await get_json(http, base + "/api/v1/pods", params={"labelSelector": "a=(b"})
    assert status == 400
    assert_status(body, 400, "BadRequest")


async def test_pagination_with_continue(servers: ReplayServers,
                                        http: aiohttp.ClientSession) -> None:
    url = servers.urls["cluster1"] + "/api/v1/pods"
    seen, token, remaining = [], None, []
    while True:
        params = {"limit": "2", **({"continue": token} if token else {})}
        _, page = await get_json(http, url, params=params)
        seen += [p["metadata"]["name"] for p in page["items"]]
        remaining.append(page["metadata"].get("remainingItemCount"))
        token = page["metadata"].get("continue")
        if not token:
            break
    assert seen == [ISTIOD, HELLO, SLEEP]
    assert remaining == [1, None]

    status, bad = await get_json(http, url, params={"limit": "1", "continue": "not-a-token"})
    assert status == 400
    assert_status(bad, 400, "BadRequest")
    stale = encode_continue("7", f"sample/{HELLO}")
    status, gone = await get_json(http, url, params={"limit": "1", "continue": stale})
    assert status == 410
    assert_status(gone, 410, "Expired")


async def test_kind_not_captured_is_not_an_empty_list(servers: ReplayServers,
                                                      http: aiohttp.ClientSession) -> None:
    base = servers.urls["cluster2"]
    status, body = await get_json(http, base + "/apis/apps/v1/deployments")
    assert status == 404
    assert_status(body, 404, "NotFound")
    assert "not captured" in body["message"]
    # A captured kind with no objects in a namespace is an honest empty list.
    status, body = await get_json(http, base + "/api/v1/namespaces/default/pods")
    assert status == 200 and body["items"] == []


# --- server-side printing ----------------------------------------------------------------------

async def table(http: aiohttp.ClientSession, url: str, **params: str) -> dict:
    status, body = await get_json(http, url, headers={"Accept": TABLE_ACCEPT}, params=params)
    assert status == 200, body
    assert (body["kind"], body["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    return body


def columns(body: dict) -> list[str]:
    return [c["name"] for c in body["columnDefinitions"] if c["priority"] == 0]


def rows(body: dict) -> dict[str, list]:
    return {r["cells"][0]: r["cells"] for r in body["rows"]}


async def test_tables_have_kubectl_columns(servers: ReplayServers,
                                           http: aiohttp.ClientSession) -> None:
    c1, c2 = servers.urls["cluster1"], servers.urls["cluster2"]
    pods = await table(http, c1 + "/api/v1/pods")
    assert columns(pods) == ["Name", "Ready", "Status", "Restarts", "Age"]
    # AGE is relative to captured_at (2026-11-21T09:00:00Z), so it is stable.
    # RESTARTS is a string since Kubernetes 1.22 ("5 (3m ago)" where the last run's end is
    # known); the wide columns end with NOMINATED NODE and READINESS GATES (printPod)
    assert rows(pods)[HELLO][:5] == [HELLO, "1/2", "CrashLoopBackOff", "5", "23h"]
    assert rows(pods)[SLEEP][:5] == [SLEEP, "2/2", "Running", "2", "23h"]
    assert rows(pods)[SLEEP][7:] == ["<none>", "<none>"]
    row_object = pods["rows"][0]["object"]
    assert row_object["kind"] == "PartialObjectMetadata"
    assert row_object["metadata"]["namespace"] == "istio-system"

    svcs = await table(http, c2 + "/api/v1/services")
    assert columns(svcs) == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
    assert rows(svcs)["helloworld"][:5] == ["helloworld", "LoadBalancer", "10.97.3.4",
                                            "34.120.10.21", "5000:31500/TCP"]
    secrets = await table(http, c1 + "/api/v1/namespaces/istio-system/secrets")
    assert columns(secrets) == ["Name", "Type", "Data", "Age"]
    assert rows(secrets)["cacerts"][:3] == ["cacerts", "Opaque", 2]
    nodes = await table(http, c1 + "/api/v1/nodes")
    assert columns(nodes) == ["Name", "Status", "Roles", "Age", "Version"]
    assert rows(nodes)["cluster1-control-plane"] == ["cluster1-control-plane", "Ready",
                                                     "control-plane", "20d", "v1.31.2"]
    namespaces = await table(http, c1 + "/api/v1/namespaces")
    assert columns(namespaces) == ["Name", "Status", "Age"]
    assert rows(namespaces)["sample"] == ["sample", "Active", "24h"]
    deploys = await table(http, c1 + "/apis/apps/v1/deployments")
    assert columns(deploys) == ["Name", "Age"]


async def test_table_include_object_and_single_get(servers: ReplayServers,
                                                   http: aiohttp.ClientSession) -> None:
    base = servers.urls["cluster1"] + "/api/v1/namespaces/sample/pods"
    none = await table(http, base, includeObject="None")
    assert all("object" not in r for r in none["rows"])
    full = await table(http, base, includeObject="Object")
    assert full["rows"][0]["object"]["kind"] == "Pod"
    assert "spec" in full["rows"][0]["object"]
    one = await table(http, f"{base}/{SLEEP}")
    assert [r["cells"][0] for r in one["rows"]] == [SLEEP]
    paged = await table(http, base, limit="1")
    assert paged["metadata"]["continue"] and paged["metadata"]["remainingItemCount"] == 1


# --- pod logs ----------------------------------------------------------------------------------

async def test_pod_logs(servers: ReplayServers, http: aiohttp.ClientSession,
                        replay_mini_dir: Path) -> None:
    base = servers.urls["cluster1"] + "/api/v1/namespaces/{}/pods/{}/log"
    istiod_log = fixture_file(replay_mini_dir, "cluster1", "logs", "istio-system", ISTIOD,
                              "discovery.log")
    status, ctype, body = await fetch(http, base.format("istio-system", ISTIOD))
    assert (status, body) == (200, istiod_log) and ctype.startswith("text/plain")
    _, _, tail = await fetch(http, base.format("istio-system", ISTIOD),
                             params={"container": "discovery", "tailLines": "2"})
    assert tail.splitlines() == istiod_log.splitlines()[-2:]
    previous_log = fixture_file(replay_mini_dir, "cluster1", "logs", "istio-system", ISTIOD,
                                "discovery.previous.log")
    _, _, previous = await fetch(http, base.format("istio-system", ISTIOD),
                                 params={"container": "discovery", "previous": "true"})
    assert previous == previous_log != istiod_log

    status, body = await get_json(http, base.format("sample", SLEEP))
    assert status == 400
    assert body["message"] == (f"a container name must be specified for pod {SLEEP}, "
                               "choose one of: [sleep istio-proxy]")
    status, body = await get_json(http, base.format("sample", SLEEP), params={"container": "x"})
    assert status == 400 and body["message"] == f"container x is not valid for pod {SLEEP}"
    status, body = await get_json(http, base.format("sample", SLEEP),
                                  params={"container": "sleep"})
    assert status == 404 and "not captured" in body["message"]
    status, body = await get_json(http, base.format("sample", SLEEP),
                                  params={"container": "istio-proxy", "previous": "true"})
    assert status == 404 and "previous log of container istio-proxy" in body["message"]
    status, body = await get_json(http, base.format("sample", "ghost"))
    assert status == 404 and body["message"] == 'pods "ghost" not found'


# --- read-only, unknown paths, latency ---------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_write_verbs_are_refused(servers: ReplayServers, http: aiohttp.ClientSession,
                                       method: str) -> None:
    base = servers.urls["cluster1"]
    for path in (f"/api/v1/namespaces/sample/pods/{SLEEP}", "/api/v1/namespaces/sample/pods",
                 f"/api/v1/namespaces/sample/pods/{SLEEP}/portforward", "/no/such/path"):
        status, body = await get_json(http, base + path, method=method, json={})
        assert status == 405, (method, path)
        assert_status(body, 405, "MethodNotAllowed")


async def test_unknown_paths_answer_a_status(servers: ReplayServers,
                                             http: aiohttp.ClientSession) -> None:
    base = servers.urls["cluster1"]
    for path in ("/healthz/nope", "/api/v2/pods", "/api/v1/widgets", f"/api/v1/pods/{SLEEP}",
                 "/api/v1/namespaces/sample/nodes", f"/api/v1/namespaces/sample/pods/{SLEEP}/exec"):
        status, body = await get_json(http, base + path)
        assert status == 404, path
        assert_status(body, 404, "NotFound")


async def test_latency_option_delays_every_request(replay_mini: Snapshot,
                                                   http: aiohttp.ClientSession) -> None:
    running = await start_replay(replay_mini, latency_ms=1)
    try:
        for _ in range(3):
            status, _ = await get_json(http, running.urls["cluster2"] + "/api/v1/pods")
            assert status == 200
        assert running.stats.delayed_requests == running.stats.requests == 3
    finally:
        await running.close()


# --- port-forward at the protocol level --------------------------------------------------------

async def test_portforward_requires_upgrade_and_an_existing_pod(
        servers: ReplayServers, http: aiohttp.ClientSession) -> None:
    base = servers.urls["cluster1"] + "/api/v1/namespaces/istio-system/pods/{}/portforward"
    status, body = await get_json(http, base.format(ISTIOD), params={"ports": "15014"})
    assert status == 400 and body["message"] == "Upgrade request required"
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(base.format("ghost") + "?ports=15014",
                              protocols=("v4.channel.k8s.io",))
    assert err.value.status == 404
    status, body = await get_json(http, base.format(ISTIOD), params={"ports": "99999"})
    assert status == 400


async def test_portforward_channel_protocol(servers: ReplayServers, http: aiohttp.ClientSession,
                                            replay_mini_dir: Path) -> None:
    url = (servers.urls["cluster1"] + f"/api/v1/namespaces/istio-system/pods/{ISTIOD}"
           "/portforward?ports=15014,9999")
    async with http.ws_connect(url, protocols=("v5.channel.k8s.io", "v4.channel.k8s.io")) as ws:
        assert ws.protocol == "v4.channel.k8s.io"
        frames = [await ws.receive_bytes() for _ in range(5)]
        le = {port: port.to_bytes(2, "little") for port in (15014, 9999)}
        assert frames[:4] == [b"\x00" + le[15014], b"\x01" + le[15014],
                              b"\x02" + le[9999], b"\x03" + le[9999]]
        assert frames[4][0] == 3 and b"connection refused" in frames[4]
        await ws.send_bytes(b"\x00GET /debug/clusterz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        async for msg in ws:
            assert msg.type == aiohttp.WSMsgType.BINARY and msg.data[0] == 0
            data += msg.data[1:]
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in head
    assert body == fixture_file(replay_mini_dir, "cluster1", "istiod", ISTIOD, "clusterz.json")


@pytest.mark.parametrize("request_bytes, status_line", [
    (b"nonsense\r\n\r\n", b"HTTP/1.1 400 Bad Request"),
    (b"POST /debug/force_disconnect HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
     b"HTTP/1.1 405 Method Not Allowed"),
    (b"GET /debug/syncz?namespace=nosuch HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK"),
])
async def test_portforward_tunnelled_http_edge_cases(servers: ReplayServers,
                                                     http: aiohttp.ClientSession,
                                                     request_bytes: bytes,
                                                     status_line: bytes) -> None:
    url = (servers.urls["cluster1"] + f"/api/v1/namespaces/istio-system/pods/{ISTIOD}"
           "/portforward?ports=15014")
    async with http.ws_connect(url, protocols=("v4.channel.k8s.io",)) as ws:
        for _ in range(2):
            await ws.receive_bytes()
        # Split the request over frames, as a TCP stream may arrive.
        await ws.send_bytes(b"\x00" + request_bytes[:5])
        await ws.send_bytes(b"\x00" + request_bytes[5:])
        data = b"".join([msg.data[1:] async for msg in ws])
    assert data.startswith(status_line)
    if b"namespace=nosuch" in request_bytes:
        assert data.endswith(b"\r\n\r\n[]")


# --- the official kubernetes client ------------------------------------------------------------

def api_client(kubeconfig: Path, context: str | None = None) -> k8s.ApiClient:
    return k8s_config.new_client_from_config(config_file=str(kubeconfig), context=context)


@pytest.fixture(scope="module")
def core(replay_mini_kubeconfig: Path) -> Iterator[k8s.CoreV1Api]:
    """CoreV1Api of the official client, configured from the written kubeconfig (cluster1)."""
    with api_client(replay_mini_kubeconfig, "cluster1") as client:
        yield k8s.CoreV1Api(client)


def test_kubernetes_client_reads(core: k8s.CoreV1Api) -> None:
    pods = core.list_pod_for_all_namespaces()
    assert [p.metadata.name for p in pods.items] == [ISTIOD, HELLO, SLEEP]
    secrets = core.list_namespaced_secret("istio-system", label_selector="istio/multiCluster=true")
    assert [s.metadata.name for s in secrets.items] == ["istio-remote-secret-cluster2"]
    kubeconfig = base64.b64decode(secrets.items[0].data["cluster2"]).decode()
    assert "token: REDACTED" in kubeconfig
    pod = core.read_namespaced_pod(SLEEP, "sample")
    assert [c.name for c in pod.spec.containers] == ["sleep", "istio-proxy"]
    by_field = core.list_pod_for_all_namespaces(field_selector="metadata.namespace=istio-system")
    assert [p.metadata.name for p in by_field.items] == [ISTIOD]


def test_kubernetes_client_pagination(core: k8s.CoreV1Api) -> None:
    names, token = [], None
    while True:
        page = core.list_pod_for_all_namespaces(limit=1, _continue=token)
        names += [p.metadata.name for p in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert names == [ISTIOD, HELLO, SLEEP]


def test_kubernetes_client_logs(core: k8s.CoreV1Api, replay_mini_dir: Path) -> None:
    text = core.read_namespaced_pod_log(ISTIOD, "istio-system", container="discovery",
                                        tail_lines=3)
    expected = fixture_file(replay_mini_dir, "cluster1", "logs", "istio-system", ISTIOD,
                            "discovery.log").decode().splitlines()[-3:]
    assert text.splitlines() == expected


def test_kubernetes_client_errors(core: k8s.CoreV1Api) -> None:
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod("ghost", "sample")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["reason"] == "NotFound"
    with pytest.raises(ApiException) as refused:
        core.delete_namespaced_pod(SLEEP, "sample")
    assert refused.value.status == 405
    assert json.loads(refused.value.body)["reason"] == "MethodNotAllowed"


def send_get(sock: socket.socket, target: str) -> None:
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Read a port-forwarded HTTP response to EOF: (status, body)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def http_over(sock: socket.socket, target: str) -> tuple[int, bytes]:
    """One HTTP/1.1 request over a port-forwarded socket, read to EOF."""
    send_get(sock, target)
    return read_response(sock)


@contextlib.contextmanager
def forward(core: k8s.CoreV1Api, pod: str, namespace: str, ports: str) -> Iterator[Any]:
    """The client's port-forward. Its local sockets are the caller's to close; so is its
    WebSocket once the server closed it (websocket-client's close() skips that case)."""
    pf = portforward(core.connect_get_namespaced_pod_portforward, pod, namespace, ports=ports)
    try:
        yield pf
    finally:
        pf.close()
        pf.websocket.shutdown()


def pod_get(core: k8s.CoreV1Api, pod: str, namespace: str, port: int,
            target: str) -> tuple[int, bytes]:
    """GET `target` from `port` of a pod through a fresh port-forward, as istioctl does."""
    with forward(core, pod, namespace, str(port)) as pf:
        return http_over(pf.socket(port), target)


def test_portforward_istiod_debug(core: k8s.CoreV1Api, replay_mini_dir: Path) -> None:
    istiod_files = replay_mini_dir / "clusters" / "cluster1" / "istiod" / ISTIOD
    status, body = pod_get(core, ISTIOD, "istio-system", 15014, "/debug/syncz")
    assert (status, body) == (200, (istiod_files / "syncz.json").read_bytes())

    dump = (istiod_files / "config_dump" / f"{SLEEP}.sample.json").read_bytes()
    status, body = pod_get(core, ISTIOD, "istio-system", 15014,
                           f"/debug/config_dump?proxyID={SLEEP}.sample&include_eds")
    assert (status, body) == (200, dump)

    # Without include_eds istiod leaves the endpoints out; so does the replay.
    status, body = pod_get(core, ISTIOD, "istio-system", 15014,
                           f"/debug/config_dump?proxyID={SLEEP}.sample")
    types = [c["@type"].rsplit(".", 1)[1] for c in json.loads(body)["configs"]]
    assert status == 200 and "EndpointsConfigDump" not in types and "ClustersConfigDump" in types


@pytest.mark.parametrize("target, status, body", [
    ("/debug/config_dump?proxyID=ghost.sample", 404,
     b"Proxy not connected to this Pilot instance. It may be connected to another instance.\n"),
    ("/debug/config_dump", 400, b"You must provide a proxyID in the query string\n"),
])
def test_portforward_istiod_errors_keep_istiods_words(core: k8s.CoreV1Api, target: str,
                                                      status: int, body: bytes) -> None:
    assert pod_get(core, ISTIOD, "istio-system", 15014, target) == (status, body)


def test_portforward_not_captured_files(core: k8s.CoreV1Api) -> None:
    # helloworld-v1 is connected (in syncz) but its config_dump was not captured.
    for target in (f"/debug/config_dump?proxyID={HELLO}.sample&include_eds", "/debug/registryz"):
        status, body = pod_get(core, ISTIOD, "istio-system", 15014, target)
        assert status == 404 and b"not captured" in body, target


def test_portforward_sidecar_admin(core: k8s.CoreV1Api, replay_mini_dir: Path) -> None:
    status, body = pod_get(core, SLEEP, "sample", 15000, "/clusters?format=json")
    assert status == 200
    assert body == fixture_file(replay_mini_dir, "cluster1", "proxies", "sample", SLEEP,
                                "clusters.json")
    status, body = pod_get(core, SLEEP, "sample", 15000, "/config_dump")
    assert status == 404 and b"not captured" in body


def test_portforward_several_ports(core: k8s.CoreV1Api, replay_mini_dir: Path) -> None:
    """As with the kubelet, the stream ends (EOF on every port) once each port's connection has
    ended: send on every port, then read."""
    expected = fixture_file(replay_mini_dir, "cluster1", "istiod", ISTIOD, "clusterz.json")
    with forward(core, ISTIOD, "istio-system", "15014,8080,15000") as pf:
        send_get(pf.socket(8080), "/debug/clusterz")
        send_get(pf.socket(15014), "/debug/clusterz")
        assert read_response(pf.socket(8080)) == (200, expected)
        assert read_response(pf.socket(15014)) == (200, expected)
        assert "connection refused" in pf.error(15000)  # istiod has no Envoy admin


def test_portforward_large_body_arrives_whole(replay_mini_dir: Path, tmp_path: Path) -> None:
    """A multi-megabyte config_dump crosses many WebSocket frames; none may be lost at close."""
    root = shutil.copytree(replay_mini_dir, tmp_path / "snapshot")
    dump = json.dumps({"configs": [{"@type": "x", "pad": "y" * 100} for _ in range(40_000)]})
    target = root / "clusters" / "cluster1" / "istiod" / ISTIOD / "config_dump" / "big.sample.json"
    target.write_text(dump)
    with ReplayThread(root) as replay, \
            api_client(replay.write_kubeconfig(tmp_path / "kubeconfig")) as client:
        status, body = pod_get(k8s.CoreV1Api(client), ISTIOD, "istio-system", 15014,
                               "/debug/config_dump?proxyID=big.sample&include_eds")
    assert status == 200 and len(body) > 4_000_000 and body == dump.encode()


def test_portforward_to_missing_pod_fails(core: k8s.CoreV1Api) -> None:
    with pytest.raises(ApiException) as err, forward(core, "ghost", "istio-system", "15014"):
        pass
    assert "404" in str(err.value)


# --- kubeconfig, ports, CLI --------------------------------------------------------------------

def test_kubeconfig_names_contexts_after_clusters(replay_mini_thread: ReplayThread) -> None:
    config = replay_mini_thread.kubeconfig()
    assert config["current-context"] == "cluster1"
    assert [c["name"] for c in config["contexts"]] == ["cluster1", "cluster2"]
    servers = {c["name"]: c["cluster"]["server"] for c in config["clusters"]}
    assert servers == replay_mini_thread.urls
    assert all(u["user"]["token"] == "replay" for u in config["users"])


def _free_consecutive_ports(count: int) -> int:
    """A base port such that base .. base+count-1 are free right now."""
    for _ in range(50):
        with contextlib.ExitStack() as stack:
            first = stack.enter_context(socket.socket())
            first.bind(("127.0.0.1", 0))
            base = first.getsockname()[1]
            try:
                for offset in range(1, count):
                    stack.enter_context(socket.socket()).bind(("127.0.0.1", base + offset))
            except OSError:
                continue
            return base
    raise RuntimeError(f"no {count} consecutive free ports")


async def test_fixed_ports_are_consecutive_and_a_taken_port_fails_cleanly(
        replay_mini: Snapshot) -> None:
    base = _free_consecutive_ports(3)
    running = await start_replay(replay_mini, port=base + 1)
    try:
        assert running.urls == {"cluster1": f"http://127.0.0.1:{base + 1}",
                                "cluster2": f"http://127.0.0.1:{base + 2}"}
        # cluster1 binds `base`, cluster2 finds base+1 taken: the whole start fails...
        with pytest.raises(OSError):
            await start_replay(replay_mini, port=base)
        # ...and leaves nothing listening on `base`.
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", base)) != 0
    finally:
        await running.close()


def test_replay_thread_reports_a_failed_start(replay_mini: Snapshot) -> None:
    base = _free_consecutive_ports(2)
    with ReplayThread(replay_mini, port=base) as running:
        assert running.urls["cluster1"].endswith(f":{base}")
        with pytest.raises(OSError):
            ReplayThread(replay_mini, port=base).start()


def test_withheld_kinds_are_refused_as_the_api_server_refuses_them(replay_mini_dir: Path,
                                                                    tmp_path: Path) -> None:
    """`--withhold secrets` (or a snapshot whose capture was refused them): the kubernetes
    client meets the API server's 403 Forbidden Status, with its wording; other kinds serve."""
    snapshot = Snapshot.open(replay_mini_dir)
    withhold_kinds(snapshot, ["secret"])  # as kubectl spells it, too
    with ReplayThread(snapshot) as replay, \
            api_client(replay.write_kubeconfig(tmp_path / "kubeconfig")) as client:
        core = k8s.CoreV1Api(client)
        with pytest.raises(ApiException) as err:
            core.list_namespaced_secret("istio-system")
        assert core.list_namespaced_pod("istio-system").items
    assert err.value.status == 403
    status = json.loads(err.value.body)
    assert (status["reason"], status["code"]) == ("Forbidden", 403)
    assert status["message"] == ('secrets is forbidden: User "system:serviceaccount:meshbot:'
                                 'meshbot" cannot list resource "secrets" in API group "" in '
                                 'the namespace "istio-system"')


def test_cli_rejects_a_kind_to_withhold_it_does_not_know(replay_mini_dir: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    code = run_replay_cli(str(replay_mini_dir), port=0, latency_ms=0, kubeconfig_out=None,
                          host="127.0.0.1", withhold=["sekrets"])
    assert code == 2
    assert "--withhold sekrets: not a kind meshbot reads" in capsys.readouterr().err


def test_cli_rejects_a_bad_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = run_replay_cli(str(tmp_path / "nope"), port=0, latency_ms=0, kubeconfig_out=None,
                          host="127.0.0.1")
    assert code == 2
    assert "no such snapshot" in capsys.readouterr().err


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_until_signalled(replay_mini_dir: Path, tmp_path: Path,
                                    stop_signal: signal.Signals) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    script = ("import sys\nfrom diagnostics.replay.runner import run_replay_cli\n"
              f"sys.exit(run_replay_cli({str(replay_mini_dir)!r}, port=0, latency_ms=0, "
              f"kubeconfig_out={str(kubeconfig)!r}, host='127.0.0.1'))\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    try:
        lines = [proc.stdout.readline().split() for _ in range(2)]
        assert [name for name, _ in lines] == ["cluster1", "cluster2"]
        with api_client(kubeconfig, "cluster2") as client:
            pods = k8s.CoreV1Api(client).list_namespaced_pod("sample")
        assert [p.metadata.name for p in pods.items] == ["helloworld-v2-7f8d9c6b5-x2k9p"]
        proc.send_signal(stop_signal)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


# --- kubectl -----------------------------------------------------------------------------------

def run_kubectl(kubectl: Path | str, kubeconfig: Path, *args: str,
                tmp: Path) -> subprocess.CompletedProcess:
    """kubectl with its own HOME and discovery cache, so nothing from the machine leaks in."""
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["HOME"] = str(tmp)
    return subprocess.run([str(kubectl), "--kubeconfig", str(kubeconfig), "--context",
                           "cluster1", "--cache-dir", str(tmp / "cache"), *args],
                          capture_output=True, text=True, timeout=60, env=env)


def assert_pods_table(out: str) -> None:
    lines = out.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert lines[1].split()[:4] == ["istio-system", ISTIOD, "1/1", "Running"]
    assert lines[2].split()[:4] == ["sample", HELLO, "1/2", "CrashLoopBackOff"]
    assert lines[3].split()[:4] == ["sample", SLEEP, "2/2", "Running"]


def test_debian_kubectl(debian_kubectl: Path, replay_mini_kubeconfig: Path,
                        replay_mini_dir: Path, tmp_path: Path) -> None:
    def kubectl(*args: str) -> subprocess.CompletedProcess:
        return run_kubectl(debian_kubectl, replay_mini_kubeconfig, *args, tmp=tmp_path)

    pods = kubectl("get", "pods", "-A")
    assert pods.returncode == 0, pods.stderr
    assert_pods_table(pods.stdout)

    secrets = kubectl("get", "secrets", "-n", "istio-system", "-l", "istio/multiCluster=true")
    assert secrets.returncode == 0, secrets.stderr
    assert [line.split()[0] for line in secrets.stdout.splitlines()] == [
        "NAME", "istio-remote-secret-cluster2"]

    logs = kubectl("logs", "-n", "istio-system", ISTIOD, "-c", "discovery", "--tail", "5")
    assert logs.returncode == 0, logs.stderr
    expected = fixture_file(replay_mini_dir, "cluster1", "logs", "istio-system", ISTIOD,
                            "discovery.log").decode().splitlines()[-5:]
    assert logs.stdout.splitlines() == expected
    previous = kubectl("logs", "-n", "istio-system", ISTIOD, "-c", "discovery", "--previous")
    assert previous.returncode == 0, previous.stderr
    assert previous.stdout == fixture_file(replay_mini_dir, "cluster1", "logs", "istio-system",
                                           ISTIOD, "discovery.previous.log").decode()

    svc = kubectl("get", "svc", "-n", "sample", "helloworld", "-o", "json")
    assert svc.returncode == 0, svc.stderr
    obj = json.loads(svc.stdout)
    assert (obj["kind"], obj["metadata"]["name"]) == ("Service", "helloworld")

    delete = kubectl("delete", "pod", "-n", "sample", SLEEP)
    assert delete.returncode != 0
    assert "MethodNotAllowed" in delete.stderr


def test_kubectl_on_path(replay_mini_kubeconfig: Path, tmp_path: Path) -> None:
    """Users have a modern kubectl; it must read the replay as well as Debian's old one."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl on PATH (Debian's kubectl is tested separately)")
    pods = run_kubectl(kubectl, replay_mini_kubeconfig, "get", "pods", "-A", tmp=tmp_path)
    assert pods.returncode == 0, pods.stderr
    assert_pods_table(pods.stdout)


def test_portforward_ztunnel_admin(tmp_path: Path) -> None:
    """ztunnel's admin port 15000 answers /config_dump from ztunnel/<pod>/ (not the sidecar's
    Envoy admin, although ztunnel's container is named istio-proxy); other paths get ztunnel's
    empty 404, writes get 405."""
    root = Path(__file__).resolve().parent / "scenarios" / "ambient-healthy" / "snapshot"
    dump_file = next((root / "clusters" / "cluster1" / "ztunnel").glob("*/config_dump.json"))
    ztunnel = dump_file.parent.name
    with ReplayThread(root) as replay, \
            api_client(replay.write_kubeconfig(tmp_path / "kubeconfig"), "cluster1") as client:
        core = k8s.CoreV1Api(client)
        assert pod_get(core, ztunnel, "istio-system", 15000, "/config_dump") == \
            (200, dump_file.read_bytes())
        assert pod_get(core, ztunnel, "istio-system", 15000, "/clusters?format=json") == \
            (404, b"")
        with forward(core, ztunnel, "istio-system", "15000") as pf:
            sock = pf.socket(15000)
            sock.sendall(b"POST /quitquitquit HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert read_response(sock)[0] == 405
