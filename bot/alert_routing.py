"""Which channel an alert group goes to, and which runbooks fit it.

Routes are label matchers from the config (`incidents.alertmanager_routes`), first match wins.
The runbooks follow the alert's labels: a control-plane alert (istiod, pilot, xDS) runs the
control-plane, remote-clusters and proxy-status commands; a pod alert `check pod/...`; a
service alert the endpoint checks of `why-local-only` and `check svc/...`. Label values are
data, never command text: each is normalised (Istio's `destination_service` is a FQDN) and used
only if it is a valid name of its kind, so a value such as `web --cluster other` is ignored
rather than becoming an option of the command.
"""

from __future__ import annotations

import re
from typing import Callable

from bot.alerts import Notification
from diagnostics.config import AlertRoute
from diagnostics.names import is_cluster, is_label, is_object_name, is_service
from handlers.commands import COMMANDS, parse
from handlers.grammar import UsageError

_CONTROL_PLANE = re.compile(r"istiod|pilot|xds|controlplane|control_plane|control-plane",
                            re.IGNORECASE)
SERVICE_LABELS = ("service", "destination_service_name", "destination_service", "service_name")
NAMESPACE_LABELS = ("namespace", "destination_service_namespace", "kubernetes_namespace",
                    "exported_namespace")
POD_LABELS = ("pod", "pod_name", "kubernetes_pod_name")


def route(notification: Notification, routes: list[AlertRoute]) -> str | None:
    """The channel of the first route whose matchers all hold for the group's labels."""
    labels = {**notification.group_labels, **notification.labels}
    for r in routes:
        if all(labels.get(k) == v for k, v in r.match.items()):
            return r.channel
    return None


def _first(labels: dict[str, str], names: tuple[str, ...],
           valid: Callable[[str], bool]) -> str | None:
    """The first of `names` whose value is a valid name of its kind."""
    return next((labels[n] for n in names if labels.get(n) and valid(labels[n])), None)


def _service(labels: dict[str, str]) -> tuple[str | None, str | None]:
    """(service, namespace) from the service labels; a FQDN `name.namespace.svc.<domain>`
    gives both."""
    for name in SERVICE_LABELS:
        value = labels.get(name) or ""
        service, _, rest = value.partition(".")
        namespace = rest.split(".")[0] if rest else None
        if is_service(service) and (namespace is None or is_label(namespace)):
            return service, namespace
    return None, None


def is_control_plane_alert(labels: dict[str, str]) -> bool:
    text = " ".join(labels.get(k, "") for k in ("alertname", "app", "job", "container",
                                                 "component", "istio"))
    return bool(_CONTROL_PLANE.search(text)) or labels.get("container") == "discovery"


def commands_for(labels: dict[str, str], clusters: list[str]) -> list[str]:
    """The command texts that fit an alert's labels, valid and known, in the order to post."""
    service, service_namespace = _service(labels)
    namespace = _first(labels, NAMESPACE_LABELS, is_label) or service_namespace
    pod = _first(labels, POD_LABELS, is_object_name)
    if namespace is None and any(labels.get(n) for n in NAMESPACE_LABELS):
        service = pod = None  # its namespace is not a name: checking `default` would mislead
    scope = f" -n {namespace}" if namespace else ""
    cluster = labels.get("cluster") or ""
    where = f" --cluster {cluster}" if cluster in clusters and is_cluster(cluster) else ""
    if is_control_plane_alert(labels):
        candidates = [f"control-plane{where}", "remote-clusters", "proxy-status"]
    elif pod:
        candidates = [f"check pod/{pod}{scope}{where}"]
    elif service:
        candidates = [f"why-local-only {service}{scope}", f"check svc/{service}{scope}{where}"]
    else:
        candidates = ["digest"]
    return [c for c in candidates if _usable(c)] or ["digest"]


def _usable(text: str) -> bool:
    """A command meshbot has and whose arguments (from label values) are valid."""
    if text.split()[0] not in COMMANDS:
        return False
    try:
        parse(text, terminal=False)
    except UsageError:
        return False
    return True
