"""Short, human descriptions of Kubernetes objects for evidence lines."""

from __future__ import annotations

from diagnostics.workloads import name_of


def service_ports(svc: dict) -> str:
    ports = []
    for p in (svc.get("spec") or {}).get("ports") or []:
        name = f"{p['name']} " if p.get("name") else ""
        proto = p.get("appProtocol") or p.get("protocol") or "TCP"
        ports.append(f"{name}{p.get('port')}/{proto}")
    return ", ".join(ports) or "no ports"


def is_headless(svc: dict) -> bool:
    return (svc.get("spec") or {}).get("clusterIP") == "None"


def service(svc: dict) -> str:
    spec = svc.get("spec") or {}
    kind = "headless" if is_headless(svc) else f"{spec.get('type', 'ClusterIP')} {spec.get('clusterIP', '?')}"
    return f"Service {name_of(svc)} ({kind}; ports {service_ports(svc)})"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
