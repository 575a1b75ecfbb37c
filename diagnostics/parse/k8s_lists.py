"""Kubernetes list bodies decoded without the part no check reads: `metadata.managedFields`.

A real API server returns every object with its managedFields, metadata-only lists included,
and on a pod they weigh as much as the rest of its metadata and spec together (diagnostics/
replay/managed_fields.py builds them as a server does): a metadata-only list of 10,000 pods is
13 MB without them and 61 MB with. The sources dropped them after decoding; decoding the
lists whose items the Kubernetes API fixes (a metadata-only list, a list of pods) through a
schema of what is read (msgspec, TypedDicts: plain dicts come out) skips them in C instead,
unbuilt. Anything else, and a body of another shape, is decoded whole.

The fields kept are ObjectMeta's and Pod's as the kubernetes client knows them
(tests/test_k8s_lists.py holds the declarations to its models): a field a later Kubernetes
adds is not read until it is declared here.

A pod read for a diagnosis also leaves out what no check reads and every real pod carries
(UNREAD: its volumes and mounts, tolerations, the kubelet's container and image ids): a third
of an injected pod's JSON, and as much of the memory a namespace of 10,000 pods takes. The
meta-tests hold that no diagnosis names them; `meshbot snapshot` reads pods whole.
"""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec


class ObjectMeta(TypedDict, total=False):
    """meta/v1 ObjectMeta but managedFields, as decoded: what objects carry alike (ALIKE) is
    left as its JSON text here, then decoded once per distinct text (_share_alike)."""

    name: Any
    generateName: Any  # noqa: N815 (the API's spelling, as every field here)
    namespace: Any
    selfLink: Any  # noqa: N815
    uid: Any
    resourceVersion: Any  # noqa: N815
    generation: Any
    creationTimestamp: Any  # noqa: N815
    deletionTimestamp: Any  # noqa: N815
    deletionGracePeriodSeconds: Any  # noqa: N815
    labels: msgspec.Raw
    annotations: msgspec.Raw
    ownerReferences: msgspec.Raw  # noqa: N815
    finalizers: Any


#: What a workload's replicas (a node pool's nodes) carry alike, to the byte: their labels,
#: annotations (the injector's status, one kilobyte) and owner. Decoded once per distinct text
#: and shared: a metadata-only list of 10,000 pods took 36 MB decoded, 12 MB so, in 0.077 s
#: instead of 0.09.
ALIKE = ("labels", "annotations", "ownerReferences")


class PartialObjectMetadata(TypedDict, total=False):
    apiVersion: Any  # noqa: N815
    kind: Any
    metadata: ObjectMeta


class Pod(TypedDict, total=False):
    apiVersion: Any  # noqa: N815
    kind: Any
    metadata: ObjectMeta
    spec: Any
    status: Any


#: The fields of a pod no diagnosis reads, by the API type that holds them.
UNREAD = {
    "PodSpec": ("volumes", "tolerations"),
    "Container": ("volumeMounts", "volumeDevices", "terminationMessagePath",
                  "terminationMessagePolicy"),
    "ContainerStatus": ("containerID", "imageID", "volumeMounts"),
}

Container = TypedDict("Container", {
    "args": Any, "command": Any, "env": Any, "envFrom": Any, "image": Any,
    "imagePullPolicy": Any, "lifecycle": Any, "livenessProbe": Any, "name": Any, "ports": Any,
    "readinessProbe": Any, "resizePolicy": Any, "resources": Any, "restartPolicy": Any,
    "restartPolicyRules": Any, "securityContext": Any, "startupProbe": Any, "stdin": Any,
    "stdinOnce": Any, "tty": Any, "workingDir": Any,
}, total=False)

PodSpec = TypedDict("PodSpec", {
    "activeDeadlineSeconds": Any, "affinity": Any, "automountServiceAccountToken": Any,
    "containers": list[Container], "dnsConfig": Any, "dnsPolicy": Any,
    "enableServiceLinks": Any, "ephemeralContainers": Any, "evictionResponders": Any,
    "hostAliases": Any, "hostIPC": Any, "hostNetwork": Any, "hostPID": Any, "hostUsers": Any,
    "hostname": Any, "hostnameOverride": Any, "imagePullSecrets": Any,
    "initContainers": list[Container], "nodeName": Any, "nodeSelector": Any, "os": Any,
    "overhead": Any, "preemptionPolicy": Any, "priority": Any, "priorityClassName": Any,
    "readinessGates": Any, "resourceClaims": Any, "resources": Any, "restartPolicy": Any,
    "runtimeClassName": Any, "schedulerName": Any, "schedulingGates": Any,
    "schedulingGroup": Any, "securityContext": Any, "serviceAccount": Any,
    "serviceAccountName": Any, "setHostnameAsFQDN": Any, "shareProcessNamespace": Any,
    "subdomain": Any, "terminationGracePeriodSeconds": Any, "topologySpreadConstraints": Any,
}, total=False)

ContainerStatus = TypedDict("ContainerStatus", {
    "allocatedResources": Any, "allocatedResourcesStatus": Any, "image": Any,
    "lastState": Any, "name": Any, "ready": Any, "resources": Any, "restartCount": Any,
    "started": Any, "state": Any, "stopSignal": Any, "user": Any,
}, total=False)

PodStatus = TypedDict("PodStatus", {
    "allocatedResources": Any, "conditions": Any, "containerStatuses": list[ContainerStatus],
    "ephemeralContainerStatuses": list[ContainerStatus], "extendedResourceClaimStatus": Any,
    "hostIP": Any, "hostIPs": Any, "initContainerStatuses": list[ContainerStatus],
    "message": Any, "nodeAllocatableResourceClaimStatuses": Any, "nominatedNodeName": Any,
    "observedGeneration": Any, "phase": Any, "podIP": Any, "podIPs": Any, "qosClass": Any,
    "reason": Any, "resize": Any, "resourceClaimStatuses": Any, "resources": Any,
    "startTime": Any, "volumeHealth": Any,
}, total=False)


class ReadPod(TypedDict, total=False):
    """A pod as diagnoses read it: Pod but UNREAD."""

    apiVersion: Any  # noqa: N815
    kind: Any
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus


class _MetadataList(msgspec.Struct, forbid_unknown_fields=True):
    """A list's envelope: any other key (a Table's rows, a Status' message) is another answer,
    decoded whole."""

    apiVersion: Any = None  # noqa: N815
    kind: Any = None
    metadata: Any = None
    items: list[PartialObjectMetadata] | None = None


class _PodList(msgspec.Struct, forbid_unknown_fields=True):
    apiVersion: Any = None  # noqa: N815
    kind: Any = None
    metadata: Any = None
    items: list[Pod] | None = None


#: PodSpec with its containers left as their JSON, each decoded by itself (_read_pods).
_RawContainersSpec = TypedDict("_RawContainersSpec", {
    **PodSpec.__annotations__, "containers": list[msgspec.Raw],
    "initContainers": list[msgspec.Raw]}, total=False)


class _RawContainersPod(TypedDict, total=False):
    """ReadPod with its containers not decoded yet."""

    apiVersion: Any  # noqa: N815
    kind: Any
    metadata: ObjectMeta
    spec: _RawContainersSpec
    status: PodStatus


class _ReadPodList(msgspec.Struct, forbid_unknown_fields=True):
    apiVersion: Any = None  # noqa: N815
    kind: Any = None
    metadata: Any = None
    items: list[_RawContainersPod] | None = None


_METADATA_LIST = msgspec.json.Decoder(_MetadataList)
_BY_KIND = {"Pod": msgspec.json.Decoder(_PodList)}
_READ_POD_LIST = msgspec.json.Decoder(_ReadPodList)
_CONTAINER = msgspec.json.Decoder(Container)
_ENCODER = msgspec.json.Encoder()


def _read_pods(body: bytes | memoryview) -> dict:
    """A list of pods as diagnoses read them (ReadPod), each container the same object as
    every equal one read before it.

    The replicas of a workload run equal containers (with UNREAD left out, the token volume's
    mount was all that told them apart): 20-30 kB of decoded env, probes and ports per pod,
    two thirds of a big namespace's memory, that the pods now share. The list is decoded in
    one pass with each container left as its JSON (a view into the body), then each container
    is decoded by itself and replaced by the first equal one: no more than one container's
    duplicate is alive at once, and the body is scanned once (decoding the items one by one
    scanned it twice: 0.43 -> 0.35 s for 10,000 pods). Facts are never modified (the engine
    hands the same ones to every check), so sharing is not seen. Raises msgspec.DecodeError."""
    envelope = _READ_POD_LIST.decode(body)
    _share_alike(envelope.items)
    seen: dict[bytes, dict] = {}
    for pod in envelope.items or ():
        spec = pod.get("spec")
        if spec:
            for key in ("containers", "initContainers"):
                if containers := spec.get(key):
                    spec[key] = [_shared(_CONTAINER.decode(raw), seen) for raw in containers]
    return {"apiVersion": envelope.apiVersion, "kind": envelope.kind,
            "metadata": envelope.metadata, "items": envelope.items}


def _shared(container: dict, seen: dict[bytes, dict]) -> dict:
    return seen.setdefault(_ENCODER.encode(container), container)


def _share_alike(items: list[dict] | None) -> None:
    """Decode each item's ALIKE metadata, each distinct text once, the same object for every
    item that carries it (facts are never modified: the sharing is not seen)."""
    seen: dict[bytes, Any] = {}
    for item in items or ():
        meta = item.get("metadata")
        if not meta:
            continue
        for key in ALIKE:
            raw = meta.get(key)
            if raw is not None:
                text = bytes(raw)
                value = seen.get(text, seen)
                if value is seen:
                    value = seen[text] = msgspec.json.decode(text)
                meta[key] = value


def decode_list(body: bytes | memoryview, kind: str, metadata_only: bool,
                whole: bool = False) -> Any:
    """A list body of `kind` (read metadata-only or not), managedFields left out where the
    API fixes its items' fields, and, unless `whole`, what no diagnosis reads (UNREAD).
    Raises ValueError (msgspec.DecodeError) for what is not JSON."""
    try:
        if kind == "Pod" and not metadata_only and not whole:
            return _read_pods(body)
        decoder = _METADATA_LIST if metadata_only else _BY_KIND.get(kind)
        if decoder is not None:
            decoded = msgspec.structs.asdict(decoder.decode(body))
            _share_alike(decoded["items"])
            return decoded
    except msgspec.DecodeError:  # another answer (a Table, items that are no objects):
        pass  # read it whole
    return msgspec.json.decode(body)
