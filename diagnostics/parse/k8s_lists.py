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
of an injected pod's JSON, and as much of the memory a namespace of 10,000 pods takes. Of its
status, where the kubelet writes per pod what no check reads (the times of its conditions,
its IP lists, QoS class and start time), that is a fifth of the decoded status, which is
three quarters of a decoded pod: 76 -> 64 MB for 10,000 pods. The meta-tests hold that no
diagnosis names them; `meshbot snapshot` reads pods whole.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple, TypedDict

import msgspec


class ObjectMeta(TypedDict, total=False):
    """meta/v1 ObjectMeta but managedFields, as decoded: what objects carry alike (ALIKE) is
    left as its JSON text here, then decoded once per distinct text (_Sharing.alike)."""

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
    "ContainerStatus": ("containerID", "imageID", "volumeMounts", "allocatedResources",
                        "allocatedResourcesStatus", "stopSignal"),
    "PodStatus": ("hostIP", "hostIPs", "podIPs", "qosClass", "startTime"),
    "PodCondition": ("lastProbeTime", "lastTransitionTime"),
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
    "image": Any, "lastState": Any, "name": Any, "ready": Any, "resources": Any,
    "restartCount": Any, "started": Any, "state": Any, "user": Any,
}, total=False)

PodCondition = TypedDict("PodCondition", {
    "message": Any, "observedGeneration": Any, "reason": Any, "status": Any, "type": Any,
}, total=False)

PodStatus = TypedDict("PodStatus", {
    "allocatedResources": Any, "conditions": list[PodCondition],
    "containerStatuses": list[ContainerStatus],
    "ephemeralContainerStatuses": list[ContainerStatus], "extendedResourceClaimStatus": Any,
    "initContainerStatuses": list[ContainerStatus], "message": Any,
    "nodeAllocatableResourceClaimStatuses": Any, "nominatedNodeName": Any,
    "observedGeneration": Any, "phase": Any, "podIP": Any, "reason": Any, "resize": Any,
    "resourceClaimStatuses": Any, "resources": Any, "volumeHealth": Any,
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


#: A container's fields but UNREAD, each left as its JSON (_shared decodes it).
_RawFieldsContainer = TypedDict(  # type: ignore[misc]
    "_RawFieldsContainer", {name: msgspec.Raw for name in Container.__annotations__},
    total=False)

#: PodSpec with its containers' fields left as their JSON (_Sharing.containers).
_RawContainersSpec = TypedDict("_RawContainersSpec", {
    **PodSpec.__annotations__, "containers": list[_RawFieldsContainer],
    "initContainers": list[_RawFieldsContainer]}, total=False)


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


class _Schema(NamedTuple):
    """How a list of one kind is decoded: whole, and its items a batch at a time."""

    envelope: msgspec.json.Decoder
    items: msgspec.json.Decoder
    raw_containers: bool  # containers left as JSON, each decoded by itself (_Sharing.containers)


_READ_PODS = _Schema(msgspec.json.Decoder(_ReadPodList),
                     msgspec.json.Decoder(list[_RawContainersPod]), True)
_WHOLE_PODS = _Schema(msgspec.json.Decoder(_PodList), msgspec.json.Decoder(list[Pod]), False)
_METADATA = _Schema(msgspec.json.Decoder(_MetadataList),
                    msgspec.json.Decoder(list[PartialObjectMetadata]), False)
_ANY = msgspec.json.Decoder()


def _schema(kind: str, metadata_only: bool, whole: bool) -> _Schema | None:
    if metadata_only:
        return _METADATA
    if kind == "Pod":
        return _WHOLE_PODS if whole else _READ_PODS
    return None  # any other kind: untyped, managedFields and all (the source drops them)


#: A list is decoded as it arrives, the whole items held so far in one batch, once this much
#: is held: two clusters' pods in full (check ns/<namespace>, 10,000 pods a cluster) are
#: 159 MB of JSON each, that the diagnosis held at once while it decoded them.
BATCH_BYTES = 1 << 20
#: The items' array starts this close to the body's start in a list (after kind, apiVersion
#: and the list's metadata); an answer without one there (a Table, a Status) is read whole.
_HEAD_LIMIT = 64 << 10
_ITEMS = b'"items":['
_FIRST_KEY = re.compile(rb'\{"([A-Za-z]{1,64})":')
_FIRST_KEY_MOST = 68
_OPEN, _CLOSE, _COMMA = b"[],"


class ListReader:
    """A list body decoded as it arrives, never held whole.

    The API server writes compact JSON, every item an object whose first key is the same (a
    typed object's `metadata`, a custom resource's `apiVersion`), so `},{"metadata":` marks
    where items may meet (never inside a string: there the quotes are escaped). Where the
    bytes held are BATCH_BYTES, those up to the last such mark are decoded as an array of
    items. A mark inside a nested array (a StatefulSet's volumeClaimTemplates) makes that
    array malformed (an unclosed object): the one before it is tried. A batch that decodes is
    items ending where the body's next item starts, since JSON decodes the same from an
    item's start whatever follows. The rest, after the last batch, is decoded with the body's
    head as a list of its own, so that the list's metadata and anything after its items are
    read as the whole body's would be. A body of another layout is decoded whole.

    The bytes are held in one buffer, reused batch after batch: "[", the items not decoded
    yet, free room. A batch is decoded where it lies (its "," made "]" for the while), and
    what follows it (part of one item) moved to the front. Fresh buffers a batch cost the
    kernel a page fault every 4 kB: 0.2 s of system time for two clusters' 159 MB.
    """

    def __init__(self, kind: str, metadata_only: bool, whole: bool = False):
        self._schema = _schema(kind, metadata_only, whole)
        self._buf = bytearray()
        self._filled = 0
        self._head: bytes | None = None  # the body up to its items' "[", once found
        self._mark: bytes | None = None  # where two items meet
        self._splitting = True
        self._next_try = BATCH_BYTES
        self._items: list = []
        self._sharing = _Sharing()

    @property
    def held(self) -> int:
        """Bytes of the body held now, not decoded yet."""
        return self._filled

    def feed(self, chunk: bytes) -> None:
        """Take the body's next bytes; decode the whole items held once there are enough."""
        start, end = self._filled, self._filled + len(chunk)
        if end > len(self._buf):
            self._buf += bytes(max(end - len(self._buf), len(self._buf)))
        self._buf[start:end] = chunk
        self._filled = end
        if self._splitting and end >= self._next_try:
            if self._mark is None:
                self._find_items()
            if self._mark is not None:
                self._take_batch()

    def finish(self) -> Any:
        """The list decoded (decode_list's answer). Raises ValueError for what is not JSON."""
        buf, filled = self._buf, self._filled
        self._buf, self._filled = bytearray(), 0
        if self._head is None:
            return self.decode(memoryview(buf)[:filled])
        decoded = self.decode(self._head + buf[1:filled])
        if self._items:
            decoded["items"] = self._items + (decoded.get("items") or [])
            self._items = []
        return decoded

    def decode(self, body: bytes | bytearray | memoryview) -> Any:
        """`body`, a whole list, decoded at once. Raises ValueError for what is not JSON."""
        if self._schema is not None:
            try:
                envelope = self._schema.envelope.decode(body)
            except msgspec.DecodeError:  # another answer (a Table, items that are no
                pass  # objects): read it whole
            else:
                self._share(envelope.items)
                return {"apiVersion": envelope.apiVersion, "kind": envelope.kind,
                        "metadata": envelope.metadata, "items": envelope.items}
        return _ANY.decode(body)

    def _find_items(self) -> None:
        buf, filled = self._buf, self._filled
        start = buf.find(_ITEMS, 0, min(filled, _HEAD_LIMIT))
        if start < 0:
            self._splitting = filled < _HEAD_LIMIT  # not here yet, or not a list
            return
        first = _FIRST_KEY.match(buf, start + len(_ITEMS), filled)
        if first is None and filled < start + len(_ITEMS) + _FIRST_KEY_MOST:
            return  # the first item's key has not arrived yet
        if first is None or not _is_head(buf[:first.start()]):
            self._splitting = False
            return
        self._mark = b'},{"' + first.group(1) + b'":'
        self._head = bytes(buf[:first.start()])
        self._keep_from(first.start() - 1)  # from the items' "["

    def _take_batch(self) -> None:
        buf, mark = self._buf, self._mark
        assert mark is not None
        end = buf.rfind(mark, 0, self._filled)
        for _ in range(3):
            if end <= 0:
                break
            buf[end + 1] = _CLOSE  # the batch: "[" up to the item before the mark, "]"
            try:
                items = self._decode_items(end + 2)
            except msgspec.DecodeError:  # the mark was inside a nested array
                buf[end + 1] = _COMMA
                end = buf.rfind(mark, 0, end)
                continue
            self._items += items
            self._keep_from(end + 1)
            self._next_try = BATCH_BYTES
            return
        self._next_try = 2 * self._filled  # no batch found: wait for twice as much

    def _decode_items(self, size: int) -> list:
        view = memoryview(self._buf)[:size]
        try:
            if self._schema is not None:
                try:
                    items = self._schema.items.decode(view)
                except msgspec.ValidationError:  # items of another shape: the rest whole
                    self._schema = None
                else:
                    self._share(items)  # no raw JSON left viewing the buffer
                    return items
            return _ANY.decode(view)
        finally:
            try:
                view.release()
            except BufferError:  # still viewed (raw JSON a schema left): leave it to that
                self._buf = bytearray(self._buf)

    def _keep_from(self, at: int) -> None:
        """Keep the bytes from `at` on, moved to the front, that one made "["."""
        buf = self._buf
        rest = buf[at:self._filled]
        buf[:len(rest)] = rest
        buf[0] = _OPEN
        self._filled = len(rest)

    def _share(self, items: list[dict] | None) -> None:
        self._sharing.alike(items)
        if self._schema is not None and self._schema.raw_containers:
            self._sharing.containers(items)
            self._sharing.conditions(items)


def _is_head(head: bytes | bytearray) -> bool:
    """Whether `head` is a list's JSON up to its own items' "[" (the list's metadata before
    it is whole)."""
    try:
        return isinstance(_ANY.decode(head + b"]}"), dict)
    except msgspec.DecodeError:
        return False


class _Sharing:
    """What the items of one list hold alike, decoded once and shared (facts are never
    modified: the sharing is not seen).

    Each distinct JSON text is decoded once, then looked up by its bytes. Before that, an
    item is compared with the one before it: the API server lists objects by name, so a
    workload's replicas come one after another, and comparing JSON with the previous item's
    (msgspec.Raw equality: one memcmp) spares copying and hashing it: for 10,000 pods the
    containers took 68 ms, now 25, their ALIKE metadata 26, now 15."""

    def __init__(self) -> None:
        self._alike: dict[bytes, Any] = {}
        self._last_alike: dict[str, tuple[msgspec.Raw, Any]] = {}
        self._containers: dict[tuple, dict] = {}
        self._lists: dict[tuple[int, ...], list[dict]] = {}
        self._last_lists: dict[str, tuple[list[dict], list[dict]]] = {}
        self._last_conditions: list[dict] | None = None

    def alike(self, items: list[dict] | None) -> None:
        """Each item's ALIKE metadata decoded, the same object for every item that carries
        the same text."""
        seen, last = self._alike, self._last_alike
        for item in items or ():
            meta = item.get("metadata")
            if not meta:
                continue
            for key in ALIKE:
                raw = meta.get(key)
                if raw is None:
                    continue
                before = last.get(key)
                if before is not None and before[0] == raw:
                    meta[key] = before[1]
                    continue
                text = bytes(raw)
                value = seen.get(text, seen)
                if value is seen:
                    value = seen[text] = msgspec.json.decode(text)
                meta[key] = value
                last[key] = (msgspec.Raw(text), value)

    def conditions(self, items: list[dict] | None) -> None:
        """Each pod's conditions, the same list as the pod's before it where they are equal.
        Without their times (UNREAD) a workload's ready replicas state the same ones, a
        seventh of a decoded pod; compared decoded (they were decoded to leave the times
        out), so only the memory is spared, and the pages it would fault in."""
        last = self._last_conditions
        for pod in items or ():
            status = pod.get("status")
            conditions = status.get("conditions") if status else None
            if not conditions:
                continue
            if conditions == last:
                status["conditions"] = last
            else:
                last = conditions
        self._last_conditions = last

    def containers(self, items: list[dict] | None) -> None:
        """Each pod's containers decoded, their fields left as JSON, each the same object as
        every equal one read before it.

        The replicas of a workload run equal containers (with UNREAD left out, the token
        volume's mount was all that told them apart): 20-30 kB of decoded env, probes and
        ports per pod, two thirds of a big namespace's memory, that the pods now share. A
        container is decoded the first time its fields' JSON is seen (equal JSON of every
        field read), then only looked up; and so is the list, the same for every replica:
        what is asked of a pod's containers can be asked once per list (identity.py)."""
        last = self._last_lists
        for pod in items or ():
            spec = pod.get("spec")
            if not spec:
                continue
            for key in ("containers", "initContainers"):
                fields = spec.get(key)
                if not fields:
                    continue
                before = last.get(key)
                if before is not None and before[0] == fields:
                    spec[key] = before[1]
                    continue
                shared = [_shared(each, self._containers) for each in fields]
                spec[key] = self._lists.setdefault(tuple(map(id, shared)), shared)
                # a copy: the JSON read viewed the batch's buffer, which is reused
                last[key] = ([{n: v.copy() for n, v in each.items()} for each in fields],
                             spec[key])


def _shared(fields: dict[str, msgspec.Raw], seen: dict[tuple, dict],
            _join=b"\0".join) -> dict:
    # the fields' JSON in one copy, NUL between them (valid JSON has none unescaped): a
    # bytes object a field was 0.08 s for 10,000 pods, this 0.067
    key = (tuple(fields), _join(fields.values()))
    container = seen.get(key)
    if container is None:
        container = seen[key] = {name: _ANY.decode(value) for name, value in fields.items()}
    return container


def decode_list(body: bytes | bytearray | memoryview, kind: str, metadata_only: bool,
                whole: bool = False) -> Any:
    """A list body of `kind` (read metadata-only or not), managedFields left out where the
    API fixes its items' fields, and, unless `whole`, what no diagnosis reads (UNREAD).
    Raises ValueError (msgspec.DecodeError) for what is not JSON."""
    return ListReader(kind, metadata_only, whole).decode(body)


class _Column(msgspec.Struct):
    name: Any = None
    format: Any = None


class _Row(msgspec.Struct):
    cells: list[Any] | None = None


class _FirstCell(msgspec.Struct, array_like=True):
    """A row's first cell, the rest of the row skipped unbuilt."""

    value: Any = None


class _FirstCellRow(msgspec.Struct):
    cells: _FirstCell | None = None


class _ItemName(msgspec.Struct):
    name: Any = None


class _NamedItem(msgspec.Struct):
    metadata: _ItemName | None = None


class _NameTable(msgspec.Struct):
    """A Table (`as=Table`, `includeObject=None`), or the plain list a server that prints no
    Table for the resource sends instead: either way only the names are decoded."""

    kind: Any = None
    metadata: dict[str, Any] | None = None
    columnDefinitions: list[_Column] | None = None  # noqa: N815
    rows: list[_Row] | None = None
    items: list[_NamedItem] | None = None


class _FirstCellTable(_NameTable):
    rows: list[_FirstCellRow] | None = None  # type: ignore[assignment]


_NAME_TABLE = msgspec.json.Decoder(_NameTable)
#: kube-apiserver prints the name first in every Table (its default one, and every printer of
#: pkg/printers/internalversion): decoded so, a row's other cells (ready, status, restarts,
#: age, IP, node...) are not built, nine objects a pod.
_FIRST_CELL_TABLE = msgspec.json.Decoder(_FirstCellTable)


def decode_rows(body: bytes | bytearray | memoryview) -> tuple[list[dict], str | None]:
    """Each object's row of a Table without objects, {column name: cell}, with the page's
    continue token. Raises ValueError for what is not JSON, or not a Table (a plain list: a
    server that prints none for the resource)."""
    table = _NAME_TABLE.decode(body)
    if table.kind != "Table":
        raise ValueError("not a Table")
    columns = [str(c.name) for c in table.columnDefinitions or ()]
    token = (table.metadata or {}).get("continue") or None
    return [dict(zip(columns, r.cells)) for r in table.rows or () if r.cells is not None], token


def decode_names(body: bytes | bytearray | memoryview) -> tuple[list[str], str | None]:
    """The object names of a Table without objects (the column of format `name`, `Name` in
    every printer of kube-apiserver and in its default Table), or of a list's items; with
    the page's continue token. Raises ValueError for what is not JSON, or a Table without a
    name column."""
    table = _FIRST_CELL_TABLE.decode(body)
    token = (table.metadata or {}).get("continue") or None
    if table.kind != "Table":
        return [str(i.metadata.name) for i in table.items or () if i.metadata], token
    columns = table.columnDefinitions or []
    at = next((i for i, c in enumerate(columns) if c.format == "name"),
              next((i for i, c in enumerate(columns) if c.name == "Name"), None))
    if at is None:
        raise ValueError("a Table without a name column")
    if at == 0:
        return [str(r.cells.value) for r in table.rows or ()
                if r.cells is not None and r.cells.value is not None], token
    table = _NAME_TABLE.decode(body)
    return [str(r.cells[at]) for r in table.rows or () if r.cells and len(r.cells) > at], token
