"""The shapes fetched inputs take, shared by the engine that fills them and checks that read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Unavailable(Exception):
    """An input could not be read for a cluster; `captured=False` means absent from the source,
    `withheld` that the install chose not to grant the read (no Secrets): not checked, by design."""

    def __init__(self, cluster: str, what: str, reason: str, captured: bool = True,
                 withheld: bool = False, refused: int | None = None):
        self.cluster, self.what, self.reason, self.captured = cluster, what, reason, captured
        self.withheld = withheld
        self.refused = refused  # the HTTP status istiod refused a debug request with (401/403)
        super().__init__(f"{cluster}: {what}: {reason}")


@dataclass
class Fact:
    """A fetched input for one cluster: a value, or why it is missing."""

    value: Any = None
    missing: Unavailable | None = None


@dataclass
class PerReplica:
    """One istiod debug endpoint as answered by each replica (each knows only its proxies)."""

    values: dict[str, Any] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)  # replica -> 401/403 (also in missing)


@dataclass
class ProxyCensus:
    """The pods of one cluster that run a proxy istiod configures (diagnostics/pods_fetch.py
    proxy_pods): how many, and whole, those no istiod lists; `judged` is False when no syncz
    could be read, so no pod could be found unlisted."""

    total: int
    unlisted: list[dict] = field(default_factory=list)
    judged: bool = True


@dataclass(frozen=True)
class PodNetworks:
    """The networks the pods of the command's namespace are labelled with in one cluster
    (diagnostics/pods_fetch.py pod_networks), known from names, not from every pod's metadata.

    `networks`: pod name -> its `topology.istio.io/network` label, for every labelled pod;
    `proxies`: the names of the pods that run a proxy (injected, gateways and waypoints);
    `owners`: the metadata of a few of the service's endpoint pods that carry no network
    label, the first of each workload by name (MAX_UNLABELLED_READ): who to restart."""

    networks: dict[str, str] = field(default_factory=dict)
    proxies: frozenset[str] = frozenset()
    owners: dict[str, dict] = field(default_factory=dict)


@dataclass
class ClientFact:
    """What was read for one client pod: the pod, and the body (or why there is none); why
    this client was examined, and the clients tried before it whose view could not be read."""

    pod: dict
    value: Any = None
    replica: str | None = None
    missing: str | None = None
    why: str = ""
    tried: list[str] = field(default_factory=list)


@dataclass
class PodLogs:
    """The logs read for one pod, by container, and why a container's log is missing.
    `previous` holds the run before the last restart of restarted app containers: after a crash
    at start-up the evidence is there, while the current run may have started cleanly."""

    pod: dict
    logs: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    previous: dict[str, str] = field(default_factory=dict)


@dataclass
class ZtunnelFact:
    """What was read from the ztunnel on an ambient client's node: the client, that ztunnel
    pod (None when no ztunnel runs there), and the body read (its /config_dump or its log) or
    why there is none."""

    pod: dict
    ztunnel: dict | None = None
    value: Any = None
    missing: str | None = None
    why: str = ""
