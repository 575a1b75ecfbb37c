"""The one interface behind which live clusters and snapshots look the same.

A source answers four questions per cluster: list objects of a resource, GET a path on one
istiod replica's monitoring port, read a container log, and GET a path on a sidecar's Envoy
admin port. The engine builds every declared input from these, so a check never knows whether
its facts came from an API server or from files.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from diagnostics.model import ClusterInfo

METRICS_PATH = "/metrics"  # istiod's Prometheus text on its monitoring port, next to /debug/*
ZTUNNEL_ADMIN_PORT = 15000  # ztunnel's admin server: /config_dump (istio/ztunnel src/admin.rs)


class SourceFailure(Exception):
    """A read failed; `source` says which side (kubernetes, istiod, envoy, snapshot)."""

    def __init__(self, message: str, source: str = "kubernetes"):
        self.source = source
        super().__init__(message)


def reraise_unexpected(exc: BaseException) -> None:
    """Only source failures become 'missing' in a gathered read; a bug must surface as one."""
    if not isinstance(exc, SourceFailure):
        raise exc


class NotCaptured(SourceFailure):
    """The thing asked for is not there: not in the snapshot, or 404 from the server."""


class Forbidden(SourceFailure):
    """The API server refused the read (403): meshbot's RBAC does not grant it."""

    def __init__(self, path: str, refusal: str):
        self.refusal = refusal  # the API server's own message
        super().__init__(f"{path}: HTTP 403 {refusal}")


class Withheld(NotCaptured):
    """A read the install chose not to grant (deploy/overlays/no-secrets, Helm
    rbac.readSecrets=false): not a fault, so the steps that needed it are skips that say so.
    `refusal` is the API server's own message, which a capture keeps (snapshot.yaml
    `withheld`) so that a diagnosis of the snapshot, and replay, meet the same refusal."""

    def __init__(self, message: str, refusal: str, source: str = "kubernetes"):
        self.refusal = refusal
        super().__init__(message, source)


def secrets_withheld(namespace: str | None, refusal: str) -> Withheld:
    """Secrets forbidden: the install without Secret reads. Only the remote-secret steps read
    Secrets, so the reason says where istiod's own list of the clusters it reads is found."""
    where = f" in {namespace}" if namespace else ""
    return Withheld(f"this install reads no Secrets{where} (the API server says: {refusal}); "
                    "istiod's own list of the remote clusters it reads and their sync status "
                    "(its /debug/clusterz): `istioctl remote-clusters`", refusal)


def read_withheld(resource: str, namespace: str | None, refusal: str) -> Withheld:
    """A list the install was refused by design; Secrets say where istiod's view is instead."""
    if resource == "secrets":
        return secrets_withheld(namespace, refusal)
    return Withheld(f"this install does not read {resource} (the API server says: {refusal})",
                    refusal)


class DebugRefused(SourceFailure):
    """istiod answered a debug request with 401 or 403: it does not let this caller read it.

    istiod serves its debug endpoints to loopback callers (a port-forward counts) and to
    authenticated ones; since 1.27.6/1.28.4/1.29 (ENABLE_DEBUG_ENDPOINT_AUTH) only those of the
    system namespace, or of DEBUG_ENDPOINT_AUTH_ALLOWED_NAMESPACES, may read more than their own
    namespace's config_dump, ndsz and edsz (docs/istiod-log-versions.md).
    """

    REASONS = {401: "istiod could not authenticate the caller (not loopback, no accepted "
                    "credentials)",
               403: "istiod authenticated the caller but its namespace may not read this "
                    "endpoint (debug endpoint authorization)"}

    def __init__(self, path: str, target: str, status: int):
        self.path, self.target, self.status = path, target, status
        why = self.REASONS.get(status, "istiod refused the request")
        super().__init__(f"{path} on {target}: HTTP {status}, refused: {why}", "istiod")


class Source(Protocol):
    """What the engine needs from a place facts come from."""

    identity: str  # stable description, part of cache keys ("snapshot:<path>", "live:<contexts>")

    def cluster_infos(self) -> list[ClusterInfo]: ...

    async def list(self, cluster: str, resource: str, namespace: str | None,
                   label_selector: str | None = None, metadata_only: bool = False,
                   field_selector: str | None = None) -> list[dict]:
        """Objects of a resource; with `metadata_only`, each as `metadata_view` shapes it;
        `field_selector` filters as the API server's (`metadata.name=<pod>`)."""
        ...

    async def names(self, cluster: str, resource: str, namespace: str | None,
                    label_selector: str | None = None) -> list[str]:
        """The names of a resource's objects, nothing else (the API server's Table without
        objects): how many there are, and which, for a fraction of their metadata."""
        ...

    async def rows(self, cluster: str, resource: str, namespace: str | None,
                   label_selector: str | None = None) -> list[dict]:
        """Each object's row of `kubectl get` (the API server's Table without objects, its
        printer's columns): {column name: cell}, a hundred bytes a pod."""
        ...

    def istiod_targets(self, cluster: str, istiod_pods: list[dict]) -> list[str]:
        """Which istiod replicas to ask (pod names, or a configured direct URL)."""
        ...

    async def istiod_get(self, cluster: str, target: str, path: str,
                         compact: Callable[[Any], list] | None = None) -> Any:
        """Parsed JSON body of GET <path> (e.g. `/debug/syncz`) on one istiod replica; for
        `/metrics` (METRICS_PATH) the Prometheus text as a string. With `compact`, what it
        makes of the body (diagnostics/inputs.py IstiodDebug), applied as the body is decoded
        where the source can (diagnostics/parse/json_items.py)."""
        ...

    async def pod_log(self, cluster: str, namespace: str, pod: str, container: str,
                      tail_lines: int, previous: bool = False) -> str:
        """A container's log; with `previous`, that of its run before the last restart."""
        ...

    async def ztunnel_get(self, cluster: str, namespace: str, pod: str, path: str) -> Any:
        """Parsed JSON body of GET <path> (`/config_dump`) on a ztunnel's admin port 15000."""
        ...

    async def close(self) -> None: ...


def metadata_view(obj: dict, kind: str, api_version: str) -> dict:
    """What a metadata-only list gives of an object, whichever way it was read: its kind (the
    listed resource's, not PartialObjectMetadata), apiVersion and metadata, nothing else."""
    return {"kind": kind, "apiVersion": api_version, "metadata": obj.get("metadata") or {}}


def running_istiod_pods(pods: list[dict]) -> list[str]:
    """Names of istiod pods that can answer debug requests: Running, not being deleted, and
    their `discovery` container running. A crash-looping istiod keeps the phase Running with
    nothing listening: asked anyway, each of its answers was 'not read', which made every
    answer about its proxies inconclusive where they are plainly served by no one (or by the
    replicas that run)."""
    names = []
    for pod in pods:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        if status.get("phase") == "Running" and not meta.get("deletionTimestamp") \
                and _discovery_runs(status):
            names.append(meta.get("name", ""))
    return sorted(n for n in names if n)


def _discovery_runs(status: dict) -> bool:
    """Whether the pod's `discovery` container runs; True when no status names it."""
    for st in status.get("containerStatuses") or ():
        if st.get("name") == "discovery":
            return (st.get("state") or {}).get("running") is not None
    return True
