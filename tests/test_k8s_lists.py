"""Kubernetes lists decoded without managedFields (diagnostics/parse/k8s_lists.py) give what
decoding them whole and dropping managedFields gave, and the declared fields are the API's
(as the kubernetes client's models know them); `meshbot replay --managed-fields` serves pods
with managedFields shaped as a real API server's (diagnostics/replay/managed_fields.py)."""

from __future__ import annotations

import ast
import copy
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from kubernetes import client

from diagnostics.parse import k8s_lists
from diagnostics.parse.k8s_lists import decode_list
from diagnostics.replay.managed_fields import field_set, pod_managed_fields, with_managed_fields
from diagnostics.snapshot import iter_objects
from diagnostics.sources.live import METADATA_LIST

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent / "examples" / "demo-mesh"


def _demo_pods() -> list[dict]:
    pods = [p for path in sorted(DEMO.glob("clusters/*/resources/*/pods.yaml"))
            for p in iter_objects(path)]
    assert len(pods) > 5
    return pods


def _without_managed_fields(obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    obj.get("metadata", {}).pop("managedFields", None)
    return obj


def _fields(model) -> set[str]:
    return set(model.attribute_map.values())


def test_the_declared_fields_are_the_apis():
    meta = _fields(client.V1ObjectMeta)
    assert set(k8s_lists.ObjectMeta.__annotations__) == meta - {"managedFields"}
    assert set(k8s_lists.Pod.__annotations__) == _fields(client.V1Pod)
    assert set(k8s_lists.ReadPod.__annotations__) == _fields(client.V1Pod)
    assert set(k8s_lists._RawContainersPod.__annotations__) == _fields(client.V1Pod)
    assert set(k8s_lists._RawContainersSpec.__annotations__) == set(
        k8s_lists.PodSpec.__annotations__)
    unread = k8s_lists.UNREAD
    for declared, model in ((k8s_lists.PodSpec, client.V1PodSpec),
                            (k8s_lists.Container, client.V1Container),
                            (k8s_lists.PodStatus, client.V1PodStatus),
                            (k8s_lists.ContainerStatus, client.V1ContainerStatus),
                            (k8s_lists.PodCondition, client.V1PodCondition)):
        name = declared.__name__
        assert set(unread.get(name, ())) <= _fields(model)
        assert set(declared.__annotations__) == _fields(model) - set(unread.get(name, ()))
    assert set(k8s_lists.PartialObjectMetadata.__annotations__) == {"apiVersion", "kind",
                                                                    "metadata"}
    for envelope in (k8s_lists._PodList, k8s_lists._MetadataList, k8s_lists._ReadPodList):
        assert set(envelope.__struct_fields__) == set(client.V1PodList.attribute_map.values())


def _list(items: list[dict], kind: str = "PodList") -> bytes:
    return json.dumps({"kind": kind, "apiVersion": "v1", "metadata": {"continue": "t"},
                       "items": items}).encode()


def _as_read(pod: dict) -> dict:
    """The specification of UNREAD, path by path: a pod as diagnoses read it."""
    pod = _without_managed_fields(pod)
    spec, status = pod.get("spec", {}), pod.get("status", {})
    for key in ("volumes", "tolerations"):
        spec.pop(key, None)
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        for key in ("volumeMounts", "volumeDevices", "terminationMessagePath",
                    "terminationMessagePolicy"):
            c.pop(key, None)
    for st in (status.get("containerStatuses", []) + status.get("initContainerStatuses", [])
               + status.get("ephemeralContainerStatuses", [])):
        for key in ("containerID", "imageID", "volumeMounts", "allocatedResources",
                    "allocatedResourcesStatus", "stopSignal"):
            st.pop(key, None)
    for key in ("hostIP", "hostIPs", "podIPs", "qosClass", "startTime"):
        status.pop(key, None)
    for condition in status.get("conditions", []):
        for key in ("lastProbeTime", "lastTransitionTime"):
            condition.pop(key, None)
    return pod


def test_a_list_of_pods_reads_without_managed_fields_and_what_no_diagnosis_reads():
    pods = [with_managed_fields(p, "Pod") for p in _demo_pods()]
    assert all(p["metadata"]["managedFields"] for p in pods)
    # the demo's pods carry what real ones do (tests/meshgen/k8s_admission.py)
    assert all(p["spec"]["volumes"] and p["spec"]["tolerations"] for p in pods)
    found = decode_list(_list(pods), "Pod", metadata_only=False)
    assert found["items"] == [_as_read(p) for p in pods]
    assert found["metadata"] == {"continue": "t"}
    whole = decode_list(_list(pods), "Pod", metadata_only=False, whole=True)
    assert whole["items"] == [_without_managed_fields(p) for p in pods]


def test_equal_containers_are_one_object_read_once():
    """A workload's replicas share their containers' decoded objects, and the lists that hold
    them; others do not."""
    pods = [with_managed_fields(p, "Pod") for p in _demo_pods()]
    sleeps = [p for p in pods if p["metadata"]["name"].startswith("sleep-")]
    assert len(sleeps) >= 2
    found = decode_list(_list(pods), "Pod", metadata_only=False)["items"]
    by_name = {p["metadata"]["name"]: p for p in found}
    first, second = (by_name[p["metadata"]["name"]]["spec"] for p in sleeps[:2])
    assert first["containers"][0] is second["containers"][0]
    assert first["initContainers"][0] is second["initContainers"][0]
    assert first["containers"] is second["containers"]
    for key in ("containers", "initContainers"):  # a list of the same containers is one list
        if list(map(id, first[key])) == list(map(id, second[key])):
            assert first[key] is second[key]
        else:
            assert first[key] is not second[key]
    others = {id(c) for p in found for c in p["spec"]["containers"]
              if not p["metadata"]["name"].startswith("sleep-")}
    assert id(first["containers"][0]) not in others
    assert id(first["containers"]) not in {id(p["spec"]["containers"]) for p in found
                                           if not p["metadata"]["name"].startswith("sleep-")}
    whole = decode_list(_list(pods), "Pod", metadata_only=False, whole=True)["items"]
    assert whole[0]["spec"]["containers"][0] is not whole[1]["spec"]["containers"][0]


def test_replicas_apart_in_the_list_share_as_replicas_side_by_side_do():
    """Items are first compared with the one before them (the API server lists by name, a
    workload's replicas side by side); replicas apart in the list (another workload's pod
    between them) still share their containers and what they carry alike, and the pod
    between shares nothing of theirs."""
    pods = [with_managed_fields(p, "Pod") for p in _demo_pods()]
    sleep = next(p for p in pods if p["metadata"]["name"].startswith("sleep-"))
    other = next(p for p in pods if not p["metadata"]["name"].startswith("sleep-")
                 and p["spec"].get("initContainers"))
    again = copy.deepcopy(sleep)
    again["metadata"].update(name=sleep["metadata"]["name"][:-5] + "zzzzz", uid="u-2")
    found = decode_list(_list([sleep, other, again, again]), "Pod", metadata_only=False)["items"]
    assert found == [_as_read(p) for p in (sleep, other, again, again)]
    first, between, apart, next_to = found
    for key in ("containers", "initContainers"):
        assert first["spec"][key] is apart["spec"][key] is next_to["spec"][key]
        assert between["spec"][key] is not first["spec"][key]
    for key in k8s_lists.ALIKE:
        assert first["metadata"][key] is apart["metadata"][key] is next_to["metadata"][key]
        assert between["metadata"][key] is not first["metadata"][key]
    # equal conditions (their times left out) are one list, between neighbours; unequal not
    assert apart["status"]["conditions"] is next_to["status"]["conditions"]
    unready = copy.deepcopy(again)
    unready["status"]["conditions"][0]["status"] = "False"
    found = decode_list(_list([again, unready, again]), "Pod", metadata_only=False)["items"]
    assert [p["status"]["conditions"] for p in found] == [
        _as_read(p)["status"]["conditions"] for p in (again, unready, again)]
    assert found[1]["status"]["conditions"] is not found[0]["status"]["conditions"]


def test_a_question_of_the_containers_is_asked_once_per_shared_list():
    """pods_where asks once per pair of container lists the decoded replicas share, keeps the
    list's order, and asks again of a pod whose containers differ."""
    from diagnostics.workloads import pods_where

    pods = [with_managed_fields(p, "Pod") for p in _demo_pods()]
    sleep = next(p for p in pods if p["metadata"]["name"].startswith("sleep-"))
    replicas = []
    for i in range(5):
        replica = copy.deepcopy(sleep)
        replica["metadata"]["name"] = f"{sleep['metadata']['name'][:-5]}zzzz{i}"
        replicas.append(replica)
    other = copy.deepcopy(sleep)
    other["metadata"]["name"] += "-other"
    other["spec"]["containers"][0]["image"] = "other:1"
    found = decode_list(_list(replicas + [other]), "Pod", metadata_only=False)["items"]
    asked: list[str] = []

    def holds(pod: dict) -> bool:
        asked.append(pod["metadata"]["name"])
        return pod["spec"]["containers"][0]["image"] != "other:1"

    assert pods_where(found, holds) == found[:5]
    assert asked == [found[0]["metadata"]["name"], other["metadata"]["name"]]


def test_containers_that_differ_in_any_one_read_field_are_not_shared():
    """A container is shared only with its equals: a copy of the proxy container differing in
    one field read (each in turn, the last included), or only in a field's name, is its own
    object, read as it is."""
    pod = next(p for p in _demo_pods() if p["metadata"]["name"].startswith("sleep-"))
    where = next((key, i) for key in ("containers", "initContainers")
                 for i, c in enumerate(pod["spec"].get(key, [])) if c["name"] == "istio-proxy")

    def proxy(p: dict) -> dict:
        return p["spec"][where[0]][where[1]]

    read = [k for k in proxy(pod) if k in k8s_lists.Container.__annotations__]
    assert len(read) >= 5
    variants = [pod]
    for key in read:
        changed = copy.deepcopy(pod)
        proxy(changed)[key] = {"changed": key}
        variants.append(changed)
    renamed = copy.deepcopy(pod)  # the same JSON values, one under another read field's name
    proxy(renamed)["workingDir"] = proxy(renamed).pop(read[-1])
    variants.append(renamed)
    found = decode_list(_list(variants), "Pod", metadata_only=False)["items"]
    assert found == [_as_read(p) for p in variants]
    assert len({id(proxy(p)) for p in found}) == len(variants)


def test_what_replicas_carry_alike_is_one_object_in_every_kind_of_list():
    """Labels, annotations and owner references of a workload's replicas are decoded once and
    shared, in metadata-only, read and whole lists; different ones are not."""
    pods = [with_managed_fields(p, "Pod") for p in _demo_pods()]
    replica = copy.deepcopy(next(p for p in pods if p["metadata"]["name"].startswith("sleep-")))
    replica["metadata"].update(name=replica["metadata"]["name"][:-5] + "zzzzz", uid="u-2")
    pods.append(replica)
    sleeps = [p["metadata"]["name"] for p in pods
              if p["metadata"]["name"].startswith(replica["metadata"]["name"][:-5])]
    assert len(sleeps) == 2
    for found in (decode_list(_list(pods), "Pod", metadata_only=True)["items"],
                  decode_list(_list(pods), "Pod", metadata_only=False)["items"],
                  decode_list(_list(pods), "Pod", metadata_only=False, whole=True)["items"]):
        by_name = {p["metadata"]["name"]: p["metadata"] for p in found}
        first, second = by_name[sleeps[0]], by_name[sleeps[1]]
        for key in k8s_lists.ALIKE:
            assert first[key] is second[key] and first[key]
        others = {id(m["labels"]) for name, m in by_name.items() if not name.startswith("sleep-")}
        assert id(first["labels"]) not in others
        assert [p["metadata"] for p in found] == [
            {k: v for k, v in p["metadata"].items() if k != "managedFields"} for p in pods]


def _string_constants(path: Path) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_no_diagnosis_names_a_field_it_does_not_read():
    """What UNREAD leaves out must stay unread: no check, view, handler or renderer names it.
    (The replay serves whole objects and the capture writes them: they may.)"""
    unread = {f for fields in k8s_lists.UNREAD.values() for f in fields}
    root = HERE.parent
    allowed = {root / "diagnostics/parse/k8s_lists.py"}
    named = {}
    for package in ("diagnostics", "handlers", "bot"):
        for path in sorted((root / package).rglob("*.py")):
            if path in allowed or "replay" in path.relative_to(root).parts:
                continue
            if found := unread & _string_constants(path):
                named[str(path.relative_to(root))] = sorted(found)
    assert named == {}


def test_a_metadata_only_list_reads_as_before_without_managed_fields():
    items = [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
              "metadata": with_managed_fields(p, "Pod")["metadata"]} for p in _demo_pods()]
    found = decode_list(_list(items, "PartialObjectMetadataList"), "Service",
                        metadata_only=True)
    assert found["items"] == [_without_managed_fields(i) for i in items]


@pytest.mark.parametrize("body", [
    {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "columnDefinitions": [], "rows": []},
    {"kind": "PodList", "items": [None, {"metadata": {"name": "a"}}]},
    {"kind": "PodList", "items": [{"metadata": {"name": "a", "managedFields": []}}],
     "extra": 1},
])
def test_other_answers_are_decoded_whole(body):
    raw = json.dumps(body).encode()
    assert decode_list(raw, "Pod", metadata_only=False) == body
    assert decode_list(raw, "Pod", metadata_only=True) == body


def test_other_kinds_are_decoded_whole():
    body = {"kind": "ServiceList", "items": [{"metadata": {"name": "s", "managedFields": [{}]},
                                              "spec": {}}]}
    assert decode_list(json.dumps(body).encode(), "Service", metadata_only=False) == body


def test_malformed_is_refused():
    with pytest.raises(ValueError):
        decode_list(b'{"items": [', "Pod", metadata_only=False)


# ------------------------------------------------------------------- read as it arrives

def _compact(body: dict) -> bytes:
    """As the API server writes it: Go's encoding/json, no spaces."""
    return json.dumps(body, separators=(",", ":")).encode()


def _read(body: bytes, kind: str, metadata_only: bool, whole: bool = False,
          chunk: int = 4096) -> tuple[dict, int, int]:
    """`body` fed to a ListReader `chunk` bytes at a time: what it decoded, the most it held
    at once, and how many items it had decoded before the last chunk."""
    reader = k8s_lists.ListReader(kind, metadata_only, whole)
    most = streamed = 0
    for at in range(0, len(body), chunk):
        reader.feed(body[at:at + chunk])
        most = max(most, reader.held)
        streamed = len(reader._items)
    return reader.finish(), most, streamed


def _many_pods(copies: int = 12) -> list[dict]:
    pods = [with_managed_fields(p, "Pod") for p in _demo_pods()]
    return [p for _ in range(copies) for p in copy.deepcopy(pods)]


@pytest.mark.parametrize("metadata_only, whole", [(False, False), (False, True), (True, False)])
def test_a_list_read_as_it_arrives_is_the_list_read_whole(monkeypatch, metadata_only, whole):
    """Pods as a server sends them (items without kind, metadata first), fed in 4 kB chunks:
    the same answer as the body decoded at once (containers and metadata shared as much),
    while never more than a small part of the body is held."""
    monkeypatch.setattr(k8s_lists, "BATCH_BYTES", 32 << 10)
    pods = [{k: p[k] for k in ("metadata", "spec", "status")} for p in _many_pods()]
    body = _compact({"kind": "PodList", "apiVersion": "v1",
                     "metadata": {"resourceVersion": "7", "continue": "t"}, "items": pods})
    found, most, streamed = _read(body, "Pod", metadata_only, whole)
    assert found == decode_list(body, "Pod", metadata_only, whole)
    assert found["metadata"] == {"resourceVersion": "7", "continue": "t"}
    assert len(found["items"]) == len(pods) and streamed > len(pods) // 2
    assert most < len(body) // 8, (most, len(body))
    if not metadata_only and not whole:
        sleeps = [p["spec"] for p in found["items"] if p["metadata"]["name"].startswith("sleep")]
        assert all(s["containers"][0] is sleeps[0]["containers"][0] for s in sleeps)
    labels = {id(p["metadata"]["labels"]) for p in found["items"]}
    assert len(labels) <= len(_demo_pods())


def test_where_items_seem_to_meet_inside_them_the_reader_finds_where_they_do(monkeypatch):
    """A StatefulSet's volumeClaimTemplates meet as its items do (`},{"metadata":`): the
    batches still end where items end. (Inside a string, as in an annotation holding such
    JSON, the quotes are escaped: no mark there.)"""
    monkeypatch.setattr(k8s_lists, "BATCH_BYTES", 2 << 10)
    templates = [{"metadata": {"name": f"data-{i}"}, "spec": {"resources": {}}}
                 for i in range(40)]
    text = json.dumps({"items": templates}, separators=(",", ":"))
    sets = [{"metadata": {"name": f"db-{n}", "annotations": {"last-applied": text}},
             "spec": {"replicas": 1, "volumeClaimTemplates": templates}} for n in range(30)]
    body = _compact({"kind": "StatefulSetList", "apiVersion": "apps/v1",
                     "metadata": {"resourceVersion": "9"}, "items": sets})
    assert body.count(b'},{"metadata":') == 30 * 39 + 29
    for chunk in (100, 1000, 7777):
        found, most, streamed = _read(body, "StatefulSet", False, chunk=chunk)
        assert found == json.loads(body) and streamed
        assert most < len(body) // 2


def test_a_custom_resources_list_with_its_metadata_after_the_items_reads_whole(monkeypatch):
    """A custom resource's list comes as a map, keys sorted: its metadata (the continue
    token) follows the items, and each item starts with apiVersion."""
    monkeypatch.setattr(k8s_lists, "BATCH_BYTES", 1 << 10)
    items = [{"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
              "metadata": {"name": f"dr-{i}", "namespace": "sample"},
              "spec": {"host": f"h{i}", "subsets": [{"name": "v1"}, {"name": "v2"}]}}
             for i in range(200)]
    body = _compact({"apiVersion": "networking.istio.io/v1", "items": items,
                     "kind": "DestinationRuleList",
                     "metadata": {"continue": "next", "resourceVersion": "3"}})
    found, _, streamed = _read(body, "DestinationRule", False, chunk=512)
    assert found == json.loads(body) and streamed > 100
    assert found["metadata"]["continue"] == "next"


@pytest.mark.parametrize("body", [
    json.dumps({"kind": "PodList", "items": _many_pods(2)}, indent=2).encode(),
    _compact({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "columnDefinitions": [],
              "rows": [{"cells": ["x" * 300]}] * 200}),
    _compact({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}),
    _compact({"kind": "PodList", "items": [None] + [{"metadata": {"name": "a"}}] * 300}),
])
def test_answers_of_another_layout_are_read_whole(monkeypatch, body):
    """Pretty-printed, not a list, no items, an item that is no object: decoded whole, as
    decode_list decodes them."""
    monkeypatch.setattr(k8s_lists, "BATCH_BYTES", 1 << 10)
    found, most, streamed = _read(body, "Pod", False, chunk=700)
    assert found == decode_list(body, "Pod", False) and not streamed
    assert most == len(body)


def test_items_of_another_shape_midway_are_read_untyped_from_there():
    """A pod whose metadata is no object fails the schema: the items from its batch on are
    decoded untyped (as a body that fails the schema is), none lost."""
    pods = [{k: p[k] for k in ("metadata", "spec", "status")} for p in _many_pods(4)]
    odd = len(pods) // 2
    pods[odd] = {"metadata": "odd", "spec": {}}
    body = _compact({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": pods})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(k8s_lists, "BATCH_BYTES", 8 << 10)
        found, _, streamed = _read(body, "Pod", False)
    assert streamed and len(found["items"]) == len(pods)
    assert found["items"][odd] == {"metadata": "odd", "spec": {}}
    names = [p["metadata"]["name"] for p in found["items"] if p is not found["items"][odd]]
    assert names == [p["metadata"]["name"] for p in pods if p is not pods[odd]]


def test_raw_json_still_viewing_the_buffer_keeps_its_bytes(monkeypatch):
    """The reader reuses its buffer batch after batch; JSON a schema left raw (were it not
    decoded at once) views that buffer: the reader moves to a new one, the old bytes stay."""
    monkeypatch.setattr(k8s_lists, "BATCH_BYTES", 8 << 10)
    monkeypatch.setattr(k8s_lists.ListReader, "_share", lambda self, items: None)
    pods = [{k: p[k] for k in ("metadata", "spec")} for p in _many_pods(4)]
    body = _compact({"kind": "PodList", "metadata": {}, "items": pods})
    found, _, streamed = _read(body, "Pod", False)
    assert streamed
    read = set(k8s_lists.Container.__annotations__)
    assert [{k: json.loads(bytes(v)) for k, v in c.items()}
            for p in found["items"] for c in p["spec"]["containers"]] == [
        {k: v for k, v in c.items() if k in read} for p in pods for c in p["spec"]["containers"]]


@pytest.mark.parametrize("cut", [1, 10, 5000])
def test_a_body_cut_short_is_refused(monkeypatch, cut):
    monkeypatch.setattr(k8s_lists, "BATCH_BYTES", 1 << 10)
    body = _compact({"kind": "PodList", "metadata": {}, "items": _many_pods(2)})
    with pytest.raises(ValueError):
        _read(body[:-cut], "Pod", False, chunk=999)


# ------------------------------------------------------------------------- the replay's side

def test_field_sets_follow_the_api_servers_shape():
    """As in `kubectl get pod --show-managed-fields` output: fields as `f:`, keyed list items
    as `k:` with `.`, maps marked with `.`, atomic lists as leaves."""
    pod = {"metadata": {"labels": {"app": "a"}},
           "spec": {"containers": [{"name": "app", "args": ["-v"],
                                    "ports": [{"containerPort": 80, "protocol": "TCP"}]}]},
           "status": {"conditions": [{"type": "Ready", "status": "True"}],
                      "podIPs": [{"ip": "10.0.0.1"}], "containerStatuses": [{"name": "app"}]}}
    assert field_set(pod["metadata"]) == {"f:labels": {".": {}, "f:app": {}}}
    assert field_set(pod["spec"]) == {"f:containers": {'k:{"name":"app"}': {
        ".": {}, "f:name": {}, "f:args": {},
        "f:ports": {".": {}, 'k:{"containerPort":80,"protocol":"TCP"}': {
            ".": {}, "f:containerPort": {}, "f:protocol": {}}}}}}
    assert field_set(pod["status"]) == {
        "f:conditions": {'k:{"type":"Ready"}': {".": {}, "f:type": {}, "f:status": {}}},
        "f:podIPs": {".": {}, 'k:{"ip":"10.0.0.1"}': {".": {}, "f:ip": {}}},
        "f:containerStatuses": {}}


def test_a_pod_carries_its_creators_and_its_kubelets_entries():
    pod = _demo_pods()[0]
    creator, kubelet = pod_managed_fields(pod)
    assert (creator["manager"], creator["operation"], creator.get("subresource")) == \
        ("kube-controller-manager", "Update", None)
    assert set(creator["fieldsV1"]) == {"f:metadata", "f:spec"}
    assert (kubelet["manager"], kubelet["subresource"]) == ("kubelet", "status")
    assert set(kubelet["fieldsV1"]) == {"f:status"}
    dressed = with_managed_fields(pod, "Pod")
    assert "managedFields" not in pod["metadata"]  # the stored object is left as it was
    assert with_managed_fields(pod, "Service") is pod
    # as heavy as the rest of the pod: what makes a replay's answers as big as real ones
    assert len(json.dumps(dressed)) > 1.5 * len(json.dumps(pod))


def _served_pods(replay_mini_dir: Path, *flags: str) -> list[dict]:
    """Pods of namespace sample as `meshbot replay` serves them: listed whole, metadata-only,
    and one got by name."""
    replay = subprocess.Popen([sys.executable, "-m", "bot.cli", "replay", str(replay_mini_dir),
                               "--kubeconfig-out", os.devnull, *flags],
                              cwd=HERE.parent, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        url = replay.stdout.readline().split()[1] + "/api/v1/namespaces/sample/pods"
        whole = json.load(urllib.request.urlopen(url, timeout=30))["items"]
        meta = json.load(urllib.request.urlopen(urllib.request.Request(
            url, headers={"Accept": METADATA_LIST}), timeout=30))["items"]
        one = json.load(urllib.request.urlopen(f"{url}/{whole[0]['metadata']['name']}",
                                               timeout=30))
    finally:
        replay.terminate()
        replay.wait(timeout=30)
        replay.stdout.close()
    return whole + meta + [one]


def test_replay_serves_managed_fields_when_asked(replay_mini_dir):
    dressed = _served_pods(replay_mini_dir, "--managed-fields")
    assert [[e["manager"] for e in p["metadata"]["managedFields"]] for p in dressed] == \
        [["kube-controller-manager", "kubelet"]] * len(dressed)
    plain = _served_pods(replay_mini_dir)
    assert not any("managedFields" in p["metadata"] for p in plain)
    assert [_without_managed_fields(p) for p in dressed] == plain


# ------------------------------------------------------------------------- names only

#: Pod columns as kube-apiserver prints them (kubernetes pkg/printers/internalversion/
#: printers.go, podColumnDefinitions: the name column has format "name"); with
#: `includeObject=None` a row carries its cells only (apimachinery handlers/response.go
#: asTable). A resource without a printer gets the default Table of Name and Created At
#: (kubernetes.io/docs/reference/using-api/api-concepts, "Receiving resources as Tables").
POD_COLUMNS = [{"name": n, "type": t, "format": f, "description": "", "priority": p}
               for n, t, f, p in [("Name", "string", "name", 0), ("Ready", "string", "", 0),
                                  ("Status", "string", "", 0), ("Restarts", "string", "", 0),
                                  ("Age", "string", "", 0), ("IP", "string", "", 1),
                                  ("Node", "string", "", 1), ("Nominated Node", "string", "", 1),
                                  ("Readiness Gates", "string", "", 1)]]


def _table(columns: list[dict], rows: list[list], token: str | None = None) -> bytes:
    meta = {"resourceVersion": "713609", **({"continue": token} if token else {})}
    return json.dumps({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                       "columnDefinitions": columns,
                       "rows": [{"cells": cells} for cells in rows]}).encode()


def test_names_are_read_from_a_tables_name_column():
    rows = [["sleep-7b9f8bd9b8-x2x4k", "2/2", "Running", "0", "3d", "10.244.1.7", "kind-worker",
             "<none>", "<none>"], ["web-0", "1/2", "CrashLoopBackOff", "5 (2m ago)", "3d",
                                   "10.244.2.9", "kind-worker2", "<none>", "<none>"]]
    assert k8s_lists.decode_names(_table(POD_COLUMNS, rows, "eyJ2Ijoi")) == (
        ["sleep-7b9f8bd9b8-x2x4k", "web-0"], "eyJ2Ijoi")
    default = [{"name": "Created At", "type": "date", "format": "", "priority": 0},
               {"name": "Name", "type": "string", "format": "", "priority": 0}]
    assert k8s_lists.decode_names(_table(default, [["2026-11-20T09:59:54Z", "w1"]])) == (
        ["w1"], None)


def test_names_come_from_a_plain_list_when_the_server_prints_no_table():
    body = json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {},
                       "items": [{"metadata": {"name": "a", "namespace": "x"}},
                                 {"metadata": {"name": "b", "namespace": "y"}}]}).encode()
    assert k8s_lists.decode_names(body) == (["a", "b"], None)


@pytest.mark.parametrize("body", [b"<html>", _table([{"name": "Ready"}], [["1/1"]])])
def test_an_answer_without_names_is_refused(body):
    with pytest.raises(ValueError):
        k8s_lists.decode_names(body)


async def test_the_live_source_reads_names_as_a_table_from_replay(replay_mini_dir, tmp_path):
    """The kubernetes client asks replay for a Table without objects: the names are those
    of the pods the label selects, in every namespace or one, and nothing else is sent."""
    import yaml

    from diagnostics.config import Config
    from diagnostics.replay.runner import start_replay
    from diagnostics.snapshot import Snapshot
    from diagnostics.sources.factory import live_source

    snapshot = Snapshot.open(replay_mini_dir)
    cluster = next(iter(snapshot.clusters))
    pods = snapshot.clusters[cluster].list("pods")
    app = next(p["metadata"]["labels"]["app"] for p in pods
               if "app" in (p["metadata"].get("labels") or {}))
    selected = sorted(p["metadata"]["name"] for p in pods
                      if (p["metadata"].get("labels") or {}).get("app") == app)
    servers = await start_replay(snapshot)
    try:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
        source = live_source(Config(), kubeconfig=str(kubeconfig), contexts=[cluster])
        try:
            [key] = [c.key for c in source.cluster_infos()]
            names = await source.names(key, "pods", None, f"app={app}")
            in_sample = await source.names(key, "pods", "sample")
        finally:
            await source.close()
        records = servers.stats.since(0)
    finally:
        await servers.close()
    assert selected and len(selected) < len(pods) and sorted(names) == selected
    assert sorted(in_sample) == sorted(p["metadata"]["name"] for p in pods
                                       if p["metadata"]["namespace"] == "sample")
    assert all("as=Table" in r.accept and "includeObject=None" in r.path for r in records)
    assert all(r.bytes < 260 * (len(pods) + 5) for r in records)  # printPod's nine cells
