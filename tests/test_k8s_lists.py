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
                            (k8s_lists.ContainerStatus, client.V1ContainerStatus)):
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
        for key in ("containerID", "imageID", "volumeMounts"):
            st.pop(key, None)
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
    """A workload's replicas share their containers' decoded objects; others do not."""
    pods = [with_managed_fields(p, "Pod") for p in _demo_pods()]
    sleeps = [p for p in pods if p["metadata"]["name"].startswith("sleep-")]
    assert len(sleeps) >= 2
    found = decode_list(_list(pods), "Pod", metadata_only=False)["items"]
    by_name = {p["metadata"]["name"]: p for p in found}
    first, second = (by_name[p["metadata"]["name"]]["spec"] for p in sleeps[:2])
    assert first["containers"][0] is second["containers"][0]
    assert first["initContainers"][0] is second["initContainers"][0]
    others = {id(c) for p in found for c in p["spec"]["containers"]
              if not p["metadata"]["name"].startswith("sleep-")}
    assert id(first["containers"][0]) not in others
    whole = decode_list(_list(pods), "Pod", metadata_only=False, whole=True)["items"]
    assert whole[0]["spec"]["containers"][0] is not whole[1]["spec"]["containers"][0]


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
