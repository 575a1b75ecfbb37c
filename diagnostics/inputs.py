"""What a check may read: declared inputs, resolved per cluster and fetched once by the engine.

Like Istio's analyzers declare the collections they read, every check declares its inputs. The
engine fetches the union of a plan's inputs once per cluster, concurrently, and hands checks a
read-only view in which reading anything undeclared is a programming error.

Each kind of input knows how it is fetched (`Input.fetch`, through the few reads a
diagnostics/fetching.py ClusterFetcher offers) and how it is resolved for one cluster and one
command (`Scope`): the engine knows neither.

Namespaces in declarations are templates: `{istio}` is the cluster's Istio system namespace and
`{namespace}` the namespace the command was asked about; `*` means all namespaces.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Awaitable, Callable, ClassVar, Mapping

from diagnostics.parse.istiod_debug import SHARD_COUNTS
from diagnostics.parse.syncz import SYNC_CENSUS, SYNC_PROXIES
from diagnostics.sources.base import METRICS_PATH, metadata_view
from diagnostics.workloads import INFRASTRUCTURE_LABELS

if TYPE_CHECKING:
    from diagnostics.fetching import ClusterFetcher

ALL_NAMESPACES = "*"
ISTIO_NS = "{istio}"
TARGET_NS = "{namespace}"


@dataclass(frozen=True)
class Scope:
    """Where one command looks in one cluster: what fills a declaration's namespace templates
    and picks the client or target whose view is fetched. Built once per cluster from its Istio
    namespace and the command's arguments, so no input and no engine reads arguments itself."""

    istio_namespace: str = "istio-system"
    namespace: str | None = None  # the command's namespace; None when it named none
    service: str | None = None
    from_pod: str | None = None  # `--from`: the client pod the asker chose
    kind: str | None = None  # `check <kind>/<name>`
    name: str | None = None

    @classmethod
    def of(cls, istio_namespace: str, args: Mapping[str, Any]) -> Scope:
        return cls(istio_namespace, args.get("namespace"), args.get("service"),
                   args.get("from"), args.get("kind"), args.get("name"))

    @property
    def target_namespace(self) -> str:
        """The namespace `{namespace}`, clients and targets mean when the command named none."""
        return self.namespace or "default"


@dataclass(frozen=True)
class Input:
    """Base of every input; subclasses are hashable value objects."""

    # Who answers it, as a failure to fetch it is reported (SourceError.source): the API server
    # (objects, logs, port-forwards to proxies) unless istiod's debug port is asked.
    side: ClassVar[str] = "kubernetes"

    def describe(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def describe_in(self, scope: Scope) -> str:
        """What `describe` says, with namespace templates filled in for one cluster and
        command: a message shown to people never carries `{istio}`."""
        return self.describe()

    def lists_read(self, scope: Scope) -> tuple[Input, ...]:
        """The inputs whose lists this one reads whole whatever else is read, as if declared
        beside it: the lists they hold are derived from them (Resources.held_by)."""
        return ()

    async def fetch(self, fetcher: ClusterFetcher) -> Any:  # pragma: no cover - overridden
        """Read this input in the fetcher's cluster (asking `fetcher.need` for what it needs
        first); a SourceFailure says why it could not be read."""
        raise NotImplementedError


@dataclass(frozen=True)
class Resources(Input):
    """A list of Kubernetes objects of one resource (`Kind.key`), optionally filtered."""

    resource: str
    namespace: str = ALL_NAMESPACES
    label_selector: str | None = None
    # Only each object's metadata (kind, apiVersion and metadata; the API server's
    # PartialObjectMetadataList): for checks that read names, labels, annotations and owners
    # only. A node's status alone is tens of kilobytes.
    metadata_only: bool = False

    def describe(self) -> str:
        return self._described(self.namespace)

    def describe_in(self, scope: Scope) -> str:
        return self._described(self.resolve_namespace(scope) or ALL_NAMESPACES)

    async def fetch(self, fetcher: ClusterFetcher) -> list[dict]:
        for held in self.held_by():
            if held in fetcher.wanted:
                return await self._derived(fetcher, held)
        return await fetcher.list(self.resource, self.resolve_namespace(fetcher.scope),
                                  self.label_selector, self.metadata_only)

    def held_by(self) -> list[Resources]:
        """The lists that hold this one's objects: itself whole, and without its selector."""
        out = [replace(self, metadata_only=False)] if self.metadata_only else []
        if self.label_selector:
            out += [replace(o, label_selector=None) for o in [self, *out]]
        return out

    async def _derived(self, fetcher: ClusterFetcher, held: Resources) -> list[dict]:
        """The command reads a list that holds this one anyway (every diagnosis reads the
        Istio namespace's pods, and its istiod pods among them; `check` reads its namespace's
        pods whole): this list is what the API server would have sent of it, the objects its
        selector matches, as metadata where only that was asked; and a request less per
        cluster (each a TLS handshake on a real cluster)."""
        from diagnostics.kinds import kind_by_key
        from diagnostics.selectors import label_predicate

        objects = await fetcher.need(held)
        if self.label_selector and not held.label_selector:
            matches = label_predicate(self.label_selector)
            objects = [o for o in objects if matches(o)]
        kind = kind_by_key(self.resource)
        if not self.metadata_only or held.metadata_only or kind is None:
            return objects
        return [metadata_view(o, kind.kind, kind.api_version) for o in objects]

    def _described(self, namespace: str) -> str:
        from diagnostics.kinds import kind_by_key

        kind = kind_by_key(self.resource)
        sel = f" -l {self.label_selector}" if self.label_selector else ""
        meta = " (metadata only)" if self.metadata_only else ""
        if kind is not None and not kind.namespaced:
            return f"{self.resource}{sel}{meta}"
        where = "all namespaces" if namespace == ALL_NAMESPACES else f"namespace {namespace}"
        return f"{self.resource} in {where}{sel}{meta}"

    def resolve_namespace(self, scope: Scope) -> str | None:
        """Concrete namespace for a cluster and command; None means all namespaces."""
        if self.namespace == ALL_NAMESPACES:
            return None
        if self.namespace == ISTIO_NS:
            return scope.istio_namespace
        if self.namespace == TARGET_NS:
            return scope.target_namespace
        return self.namespace


#: Chooses, from a cluster's pods as a metadata-only list gives them, the (namespace, name) of
#: those a check must see whole; it may wait for other inputs through the fetcher.
PodPicker = Callable[["ClusterFetcher", list[dict]], Awaitable[set[tuple[str, str]]]]


@dataclass(frozen=True)
class PodsInFull(Input):
    """The whole objects of the few pods a metadata-only list singles out.

    Big meshes have 10,000 pods a namespace; whole, each is ~5 kB of JSON, most of it the
    injected sidecar's spec. A check that judges a handful of them by their spec or status
    (a sidecar no istiod lists: is it running?) reads every pod's metadata (`among`), and
    whole only those `picker` names (diagnostics/pods_fetch.py)."""

    among: Input  # pods' metadata (a metadata-only list)
    picker: PodPicker
    what: str  # which pods, for people: "sidecars no istiod lists"

    def describe(self) -> str:
        return f"pods read whole: {self.what}"

    async def fetch(self, fetcher: ClusterFetcher) -> list[dict]:
        from diagnostics.pods_fetch import pods_in_full

        return await pods_in_full(fetcher, self.among, self.picker)


@dataclass(frozen=True)
class ResourceNames(Input):
    """Only the names of a resource's objects, in the command's namespace (every namespace
    when it named none): the API server's Table without its objects (diagnostics/sources/
    live.py NAME_TABLE). A pod's name costs a hundred bytes where its metadata costs 9 kB,
    most of it managedFields, which no other read leaves out: at 10,000 pods a cluster the
    difference is 85 MB a cluster per diagnosis."""

    resource: str
    label_selector: str | None = None
    # TARGET_NS: the namespace clients and targets are sought in (Scope.target_namespace),
    # where the command named none too.
    namespace: str | None = None

    def describe(self) -> str:
        sel = f" -l {self.label_selector}" if self.label_selector else ""
        return f"{self.resource} names{sel}"

    def describe_in(self, scope: Scope) -> str:
        namespace = self._namespace(scope)
        where = f"namespace {namespace}" if namespace else "all namespaces"
        return f"{self.describe()} in {where}"

    def _namespace(self, scope: Scope) -> str | None:
        return scope.target_namespace if self.namespace == TARGET_NS else scope.namespace

    async def fetch(self, fetcher: ClusterFetcher) -> list[str]:
        from diagnostics.workloads import name_of

        if self.namespace == TARGET_NS:
            listed = Resources(self.resource, TARGET_NS, self.label_selector, metadata_only=True)
            if any(held in fetcher.wanted for held in [listed, *listed.held_by()]):
                return [name_of(o) for o in await fetcher.need(listed)]  # read anyway
        return await fetcher.names(self.resource, self._namespace(fetcher.scope),
                                   self.label_selector)


@dataclass(frozen=True)
class PodsPicked(Input):
    """The whole objects of the few pods `picker` names from other inputs (no pod list)."""

    picker: Callable[[ClusterFetcher], Awaitable[set[tuple[str, str]]]]
    what: str

    def describe(self) -> str:
        return f"pods read whole: {self.what}"

    async def fetch(self, fetcher: ClusterFetcher) -> list[dict]:
        from diagnostics.pods_fetch import read_whole

        return await read_whole(fetcher, await fetcher.once(
            f"picked:{self.picker.__name__}", lambda: self.picker(fetcher)))


@dataclass(frozen=True)
class ProxyPods(Input):
    """The pods running a proxy istiod configures, in the command's namespace or all: how
    many (PROXY_POD_NAMES and the gateways' and waypoints' metadata), and, whole, those no
    istiod lists (diagnostics/pods_fetch.py proxy_pods), without every pod's metadata."""

    def describe(self) -> str:
        return "pods with a proxy (names; those no istiod lists read whole)"

    async def fetch(self, fetcher: ClusterFetcher) -> Any:
        from diagnostics.pods_fetch import proxy_pods

        return await proxy_pods(fetcher)


@dataclass(frozen=True)
class AmbientEnrolledPods(Input):
    """The metadata of the pods ambient mode should capture by their labels: every pod of a
    namespace labelled for ambient, and pods labelled so themselves (diagnostics/views/
    ambient.py enrolled_in), read namespace by namespace once NAMESPACES says which: a mesh
    without ambient reads one empty label-selected list."""

    def describe(self) -> str:
        return "pods of ambient-enrolled namespaces, and pods enrolled by their label (metadata)"

    async def fetch(self, fetcher: ClusterFetcher) -> list[dict]:
        from diagnostics.pods_fetch import ambient_enrolled

        return await ambient_enrolled(fetcher)


@dataclass(frozen=True)
class RolePods(Input):
    """The metadata of the command's namespace's pods whose role in the mesh labels state, so
    that no check has to read every pod's metadata to find them (10,000 pods: 85 MB a
    cluster): gateways and waypoints, and pods enrolled in ambient mode. Where the namespace
    is enrolled, or any of its pods is, every pod's metadata (diagnostics/pods_fetch.py
    role_pods): which are captured, and which carry a sidecar instead, is what is asked."""

    def describe(self) -> str:
        return ("pods of the namespace that are gateways, waypoints or enrolled in ambient "
                "(metadata; every pod's where ambient is used)")

    async def fetch(self, fetcher: ClusterFetcher) -> list[dict]:
        from diagnostics.pods_fetch import role_pods

        return await role_pods(fetcher)


@dataclass(frozen=True)
class PodNetworksInput(Input):
    """Which network each pod of the command's namespace is labelled with, from the API
    server's Tables of names per label value (diagnostics/pods_fetch.py pod_networks;
    facts.PodNetworks): the one label of every pod that why-local-only's checks read."""

    def describe(self) -> str:
        return "pods of the namespace by topology.istio.io/network (names)"

    async def fetch(self, fetcher: ClusterFetcher) -> Any:
        from diagnostics.pods_fetch import pod_networks

        return await pod_networks(fetcher)


@dataclass(frozen=True)
class ServicePods(Input):
    """The metadata of the pods the command's service selects (its selector as a label
    selector; `app=<service>` without a Service), read only where no endpoint of it is ready
    in the cluster: then how many there are, and what keeps each from Ready, is the answer."""

    def describe(self) -> str:
        return "pods the service selects where none is ready (metadata)"

    async def fetch(self, fetcher: ClusterFetcher) -> list[dict]:
        from diagnostics.pods_fetch import service_pods

        return await service_pods(fetcher)


@dataclass(frozen=True)
class IstiodDebug(Input):
    """GET /debug/<endpoint> on every istiod replica of the cluster (each knows its own proxies)."""

    side: ClassVar[str] = "istiod"
    endpoint: str
    # What each replica's body is reduced to as it is decoded, where the checks keep far less
    # than istiod wrote (endpointShardz: how many endpoints each shard holds) or another form
    # (syncz: parsed proxies). It must map a list body item by item and an object body key by
    # key (diagnostics/parse/json_items.py decodes one entry at a time).
    compact: Callable[[Any], list] | None = None
    # The input this one is computed from when a command reads that one anyway (its values
    # compacted again) rather than asking istiod twice.
    derive_from: IstiodDebug | None = None

    def describe(self) -> str:
        return f"istiod /debug/{self.endpoint} (every replica)"

    async def fetch(self, fetcher: ClusterFetcher) -> Any:
        if self.compact is None:
            return await fetcher.each_replica(f"/debug/{self.endpoint}")
        source = self.derive_from
        if source is not None and source in fetcher.wanted:  # compacted from it, not asked again
            return self.compacted(await fetcher.need(source))
        return await fetcher.each_replica(f"/debug/{self.endpoint}", self.compact)

    def compacted(self, answers: Any) -> Any:
        """`answers` (a PerReplica) as this input keeps them: a copy with each replica's body
        compacted, what and why unread left as they were."""
        assert self.compact is not None
        return replace(answers, values={replica: self.compact(body)
                                        for replica, body in answers.values.items()})


@dataclass(frozen=True)
class ClientConfigDumps(Input):
    """istiod's config_dump with EDS for the client proxies the command examines.

    Which clients is decided from the namespace's possible clients (CLIENT_POOL) and the
    command's arguments (diagnostics/workloads.py client_candidates), so this input is fetched
    after the pods it depends on.
    """

    side: ClassVar[str] = "istiod"

    def describe(self) -> str:
        return "istiod /debug/config_dump?include_eds for the client proxies"

    async def fetch(self, fetcher: ClusterFetcher) -> Any:
        return await fetcher.client_config_dumps()


@dataclass(frozen=True)
class ClientProxyLogs(Input):
    """The `istio-proxy` container log (access log) of the client proxies the command examines."""

    tail_lines: int = 500

    def describe(self) -> str:
        return f"istio-proxy logs of the client proxies (last {self.tail_lines} lines)"

    async def fetch(self, fetcher: ClusterFetcher) -> Any:
        return await fetcher.client_logs(self.tail_lines)


@dataclass(frozen=True)
class TargetPodLogs(Input):
    """Container logs of the pods a `check` targets (diagnostics/targets.py picks the pods and
    containers: the sidecar's access log, the app containers, a failed istio-init)."""

    tail_lines: int = 300

    def describe(self) -> str:
        return f"container logs of the target's pods (last {self.tail_lines} lines)"

    async def fetch(self, fetcher: ClusterFetcher) -> Any:
        return await fetcher.target_logs(self.tail_lines)


@dataclass(frozen=True)
class TargetPods(Input):
    """The pods `check` resolves its target from, read as its question needs them: the pod by
    name, a Deployment's or a Service's by its selector (diagnostics/target_fetch.py
    target_pods), a namespace's from every pod's metadata and `kubectl get` row, whole only
    those examined (diagnostics/namespace_pods.py). A namespace of 10,000 pods is 159 MB of
    JSON a cluster, that `check deploy/sleep`, one pod, read whole."""

    def describe(self) -> str:
        return NAMESPACE_PODS.describe()

    def describe_in(self, scope: Scope) -> str:
        return NAMESPACE_PODS.describe_in(scope)

    def lists_read(self, scope: Scope) -> tuple[Input, ...]:
        return (NAMESPACE_POD_META,) if scope.kind == "ns" else ()

    async def fetch(self, fetcher: ClusterFetcher) -> list[dict]:
        from diagnostics.target_fetch import target_pods

        return await target_pods(fetcher)


@dataclass(frozen=True)
class TargetPodNames(Input):
    """Where `check pod/<name>` finds no such pod, the names of its namespace's pods (a Table
    of names, a hundred bytes a pod): the similar ones are offered. Nothing is read for the
    other kinds, or where the pod exists."""

    def describe(self) -> str:
        return "pod names in namespace {namespace} where the pod asked is not found"

    def describe_in(self, scope: Scope) -> str:
        return self.describe().replace(TARGET_NS, scope.target_namespace)

    async def fetch(self, fetcher: ClusterFetcher) -> list[str]:
        from diagnostics.target_fetch import target_pod_names

        return await target_pod_names(fetcher)


@dataclass(frozen=True)
class ResolvedTarget(Input):
    """The `check` target in one cluster (diagnostics/targets.py TargetQuery): its workloads,
    pods and Services, resolved once from the target's pods, Services, ReplicaSets and
    Deployments for the log choice and every check."""

    def describe(self) -> str:
        return "the target's workloads, pods and Services"

    async def fetch(self, fetcher: ClusterFetcher) -> Any:
        return await fetcher.target_query()


@dataclass(frozen=True)
class IstiodLogs(Input):
    """The `discovery` container log of every istiod replica."""

    tail_lines: int = 5000

    def describe(self) -> str:
        return f"istiod discovery logs (last {self.tail_lines} lines, every replica)"

    async def fetch(self, fetcher: ClusterFetcher) -> Any:
        return await fetcher.replica_logs("discovery", self.tail_lines)


@dataclass(frozen=True)
class IstiodMetrics(Input):
    """istiod's Prometheus text (`GET :15014/metrics`) on every replica: a cheap per-replica
    view (for example `istiod_remote_cluster_sync_status`, 1.29+) that debug endpoint
    authorization does not guard."""

    side: ClassVar[str] = "istiod"

    def describe(self) -> str:
        return "istiod /metrics (every replica)"

    async def fetch(self, fetcher: ClusterFetcher) -> Any:
        return await fetcher.each_replica(METRICS_PATH)


@dataclass(frozen=True)
class ClientZtunnelDumps(Input):
    """ztunnel's admin `/config_dump` (port 15000) on the node of the ambient client the
    command examines: the workloads and services that client's traffic is routed with.

    The client is chosen from the namespace's possible clients (CLIENT_POOL; diagnostics/views/
    ambient.py ambient_clients) and its node's ztunnel from ZTUNNEL_PODS, so this is fetched
    after both.
    """

    def describe(self) -> str:
        return "ztunnel /config_dump on the ambient client's node"

    async def fetch(self, fetcher: ClusterFetcher) -> Any:
        return await fetcher.client_ztunnel_dump()


@dataclass(frozen=True)
class ClientZtunnelLogs(Input):
    """The log of the ztunnel on the ambient client's node (its `istio-proxy` container)."""

    tail_lines: int = 500

    def describe(self) -> str:
        return f"log of the ztunnel on the ambient client's node (last {self.tail_lines} lines)"

    async def fetch(self, fetcher: ClusterFetcher) -> Any:
        return await fetcher.client_ztunnel_log(self.tail_lines)


# Inputs shared by many checks, named once so declarations read like a sentence.
ISTIOD_PODS = Resources("pods", ISTIO_NS, "app=istiod")
#: Every pod of the command's namespace, whole; and their metadata.
NAMESPACE_PODS = Resources("pods", TARGET_NS)
NAMESPACE_POD_META = Resources("pods", TARGET_NS, metadata_only=True)
TARGET_PODS = TargetPods()
TARGET_POD_NAMES = TargetPodNames()
#: What why-local-only asks of the namespace's pods other than the client, without their
#: metadata (85 MB a cluster of 10,000 pods, managedFields included): with the namespace's
#: EndpointSlices (addresses, node, readiness of every endpoint), the pods' networks
#: (TARGET_POD_NETWORKS), the injected ones' names (TARGET_INJECTED_NAMES) and the metadata
#: of those whose role labels state (TARGET_ROLE_PODS) (diagnostics/views/mesh.py).
TARGET_ROLE_PODS = RolePods()
TARGET_POD_NETWORKS = PodNetworksInput()
SERVICE_POD_META = ServicePods()
SERVICES = Resources("services")
TARGET_ENDPOINTSLICES = Resources("endpointslices.discovery.k8s.io", TARGET_NS)
NAMESPACES = Resources("namespaces")
NODES = Resources("nodes")
#: The nodes' topology labels only (locality): metadata, not the status that is tens of
#: kilobytes a node (images, conditions, addresses).
NODE_LABELS = Resources("nodes", metadata_only=True)
ISTIO_SECRETS = Resources("secrets", ISTIO_NS)
ISTIO_PODS = Resources("pods", ISTIO_NS)
ISTIO_SERVICES = Resources("services", ISTIO_NS)
ISTIO_CONFIGMAPS = Resources("configmaps", ISTIO_NS)
CLUSTERZ = IstiodDebug("clusterz")
#: Each replica's syncz as parsed proxies (diagnostics/parse/syncz.py ProxySync), parsed as it
#: is decoded: the body's objects (40 MB at 10,000 proxies) are never kept.
SYNCZ = IstiodDebug("syncz", SYNC_PROXIES)
#: Who is connected to which istiod: each replica's syncz kept as (proxy, cluster id,
#: versioned), for checks that ask nothing of a proxy's sync state; a command that reads
#: SYNCZ derives it from that.
SYNCZ_CENSUS = IstiodDebug("syncz", SYNC_CENSUS, derive_from=SYNCZ)
NETWORKZ = IstiodDebug("networkz")
ENDPOINT_SHARDZ = IstiodDebug("endpointShardz", SHARD_COUNTS)
MESH = IstiodDebug("mesh")
CLIENT_CONFIG_DUMPS = ClientConfigDumps()
CLIENT_PROXY_LOGS = ClientProxyLogs()
ISTIOD_LOGS = IstiodLogs()
ISTIOD_METRICS = IstiodMetrics()
#: The label the sidecar injector sets on every pod it injects (istio/istio manifests/charts/
#: istio-control/istio-discovery/files/injection-template.yaml: `security.istio.io/tlsMode`,
#: "istio" unless the pod set it), so a label selector finds sidecars without their metadata.
TLS_MODE_LABEL = "security.istio.io/tlsMode"
#: The names of the injected pods (the command's namespace, or all).
PROXY_POD_NAMES = ResourceNames("pods", TLS_MODE_LABEL)
#: The names of the injected pods of the namespace clients are sought in.
TARGET_INJECTED_NAMES = ResourceNames("pods", TLS_MODE_LABEL, TARGET_NS)
#: The injected pods' metadata, read only when too many of them are missing from syncz to be
#: read by name (diagnostics/pods_fetch.py NAME_READS): istiod down, say.
PROXY_POD_META = Resources("pods", label_selector=TLS_MODE_LABEL, metadata_only=True)
#: Gateways and waypoints: proxies deployed with their workload, not injected (diagnostics/
#: workloads.py is_mesh_infrastructure), found by the labels Istio's charts and controllers
#: set. A handful of pods; `istio` also finds istiod (`istio=pilot`), which is left out.
INFRA_SELECTORS = (*INFRASTRUCTURE_LABELS, "istio")
PROXY_INFRA_META = tuple(Resources("pods", label_selector=s, metadata_only=True)
                         for s in INFRA_SELECTORS)
PROXY_PODS = ProxyPods()
AMBIENT_ENROLLED_PODS = AmbientEnrolledPods()
DESTINATION_RULES = Resources("destinationrules.networking.istio.io")
ISTIO_DEPLOYMENTS = Resources("deployments.apps", ISTIO_NS)
ISTIO_ENDPOINTS = Resources("endpoints", ISTIO_NS)
ISTIO_ENDPOINTSLICES = Resources("endpointslices.discovery.k8s.io", ISTIO_NS)
ISTIO_EVENTS = Resources("events", ISTIO_NS)
ISTIO_GATEWAYS = Resources("gateways.networking.istio.io")  # Gateways may live in any namespace
K8S_GATEWAYS = Resources("gateways.gateway.networking.k8s.io")  # Gateway API Gateways
MUTATING_WEBHOOKS = Resources("mutatingwebhookconfigurations.admissionregistration.k8s.io")
NETWORK_POLICIES = Resources("networkpolicies.networking.k8s.io", ISTIO_NS)
PEER_AUTHENTICATIONS = Resources("peerauthentications.security.istio.io")
TARGET_DEPLOYMENTS = Resources("deployments.apps", TARGET_NS)
TARGET_EVENTS = Resources("events", TARGET_NS)
TARGET_LOGS = TargetPodLogs()
TARGET = ResolvedTarget()
TARGET_REPLICASETS = Resources("replicasets.apps", TARGET_NS)
TARGET_SERVICES = Resources("services", TARGET_NS)
VALIDATING_WEBHOOKS = Resources("validatingwebhookconfigurations.admissionregistration.k8s.io")
# Ambient: the node agents (ztunnel, istio-cni; DaemonSets of istio/istio manifests/charts/ztunnel
# and istio-cni, wherever they were installed), waypoints, istiod's ambient view, the client's
# ztunnel.
ZTUNNEL_PODS = Resources("pods", ALL_NAMESPACES, "app=ztunnel")
CNI_PODS = Resources("pods", ALL_NAMESPACES, "k8s-app=istio-cni-node")
WAYPOINT_PODS = Resources("pods", ALL_NAMESPACES, "gateway.istio.io/managed=istio.io-mesh-controller")
AMBIENTZ = IstiodDebug("ambientz")
CLIENT_ZTUNNEL_DUMPS = ClientZtunnelDumps()
CLIENT_ZTUNNEL_LOGS = ClientZtunnelLogs()


def _picker(name: str) -> PodPicker:
    """A picker of diagnostics/pods_fetch.py, imported when first called (that module reads
    the inputs declared here)."""

    async def pick(fetcher: ClusterFetcher, *pods: list[dict]) -> set[tuple[str, str]]:
        from diagnostics import pods_fetch

        return await getattr(pods_fetch, name)(fetcher, *pods)

    pick.__name__ = pick.__qualname__ = name
    return pick


#: Pods of ambient-enrolled namespaces (or labelled so) that carry no redirection annotation:
#: whether they run, on which node, with host network, decide ambient-capture's findings.
UNCAPTURED_AMBIENT_PODS = PodsInFull(AMBIENT_ENROLLED_PODS, _picker("uncaptured_ambient"),
                                     "ambient-enrolled pods ztunnel does not capture")
#: The pods of the first proxies (by id) more than one minor version from the istiod that
#: lists them: their owners name the workload to restart (proxy-versions' fix).
SKEWED_PROXY_PODS = PodsPicked(_picker("skewed_proxies"),
                               "proxies outside the supported version skew (their owners)")
#: The pods of the command's namespace that may be its client (the `--from` pod, else the first
#: injected and the first captured pods the service does not select, by name), read whole:
#: their readiness, containers and node decide which is examined (diagnostics/workloads.py
#: client_candidates, views/ambient.py ambient_clients).
CLIENT_POOL = PodsPicked(_picker("client_pool"),
                         "the namespace's pods that may be the examined client")
#: Where the service has no ready endpoint: the first of its pods, whose state says why.
UNREADY_SERVICE_PODS = PodsInFull(SERVICE_POD_META, _picker("unready_service_pods"),
                                  "the service's pods where none is ready")
#: Where the namespace uses ambient mode: all its pods, whose containers, phase and host
#: network say which data plane carries each.
AMBIENT_NAMESPACE_PODS = PodsInFull(TARGET_ROLE_PODS, _picker("ambient_namespace_pods"),
                                    "the namespace's pods where it uses ambient mode")
