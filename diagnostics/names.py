"""Kubernetes' name rules, shared by the command grammar and by what meshbot writes to disk.

From apimachinery's validation (IsDNS1123Label, IsDNS1035Label, IsDNS1123Subdomain), always
applied in full (`fullmatch`: `$` would accept a name ending in a newline). Names that come from
outside (typed commands, alert labels, istiod's proxy ids, a cluster's pod list) are checked
with these before they become command arguments or parts of a file path.
"""

from __future__ import annotations

import re

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# Istio cluster ids are free-form in istiod; meshbot accepts what a kubeconfig context is called
# (EKS ARNs carry ':' and '/'), but a snapshot folder holds one path component, so no '/'.
CLUSTER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]*")
CLUSTER_FOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


def is_label(value: str) -> bool:
    """A namespace or container name (DNS-1123 label, at most 63 characters)."""
    return len(value) <= 63 and DNS1123_LABEL.fullmatch(value) is not None


def is_service(value: str) -> bool:
    """A Service name (DNS-1035 label, at most 63 characters)."""
    return len(value) <= 63 and DNS1035_LABEL.fullmatch(value) is not None


def is_object_name(value: str) -> bool:
    """A pod or other object name (DNS-1123 subdomain, at most 253 characters)."""
    return len(value) <= 253 and DNS1123_SUBDOMAIN.fullmatch(value) is not None


def is_cluster(value: str) -> bool:
    return len(value) <= 253 and CLUSTER.fullmatch(value) is not None


def is_cluster_folder(value: str) -> bool:
    """A cluster id that can name a snapshot folder: one path component, never '.' or '..'."""
    return len(value) <= 253 and CLUSTER_FOLDER.fullmatch(value) is not None


def split_proxy_id(proxy_id: str) -> tuple[str, str] | None:
    """istiod's proxy id `<pod>.<namespace>` as (pod, namespace); None when it is not one."""
    pod, dot, namespace = proxy_id.rpartition(".")
    if dot and is_object_name(pod) and is_label(namespace):
        return pod, namespace
    return None
