"""`meshbot replay` behind the authorization a real API server would apply: requests that the
rendered RBAC (ClusterRoles and Roles of a deploy/ shape) does not allow get the API server's
403 Forbidden Status, so the live source meets exactly what a cluster with that install says.

The Status is Kubernetes' own shape: `apierrors.NewForbidden` around the authorizer's message,
`User %q cannot %s resource %q in API group %q in the namespace %q` (kubernetes/apiserver,
pkg/endpoints/handlers/responsewriters/errors.go, forbiddenMessage).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from diagnostics.replay.apiserver import ReplayStats, build_app
from diagnostics.replay.kubeconfig import build_kubeconfig
from diagnostics.replay.responses import INSTALL_USER, forbidden, forbidden_message
from diagnostics.snapshot import Snapshot

USER = INSTALL_USER
_PATH = re.compile(r"^/(?:api/(?P<cv>v1)|apis/(?P<g>[^/]+)/(?P<v>[^/]+))(?P<rest>(?:/[^/]+)*)$")


def request_info(method: str, path: str, query: list) -> tuple[str, str, str, str | None] | None:
    """(verb, apiGroup, resource[/subresource], namespace) as the API server's RequestInfo, or
    None for a path that is no resource request (discovery)."""
    m = _PATH.match(path)
    if not m:
        return None
    parts = [p for p in m.group("rest").split("/") if p]
    if not parts:
        return None
    ns = None
    if len(parts) >= 3 and parts[0] == "namespaces":
        ns, parts = parts[1], parts[2:]
    resource, name = parts[0], (parts[1] if len(parts) > 1 else None)
    sub = parts[2] if len(parts) > 2 else None
    assert method == "GET", (method, path)
    watching = any(k == "watch" and v in ("1", "true") for k, v in query)
    verb = "watch" if watching else ("get" if name else "list")
    return verb, m.group("g") or "", f"{resource}/{sub}" if sub else resource, ns


def allowed(rbac: list[dict], verb: str, group: str, resource: str, ns: str | None) -> bool:
    """Whether some rule of the ClusterRoles (anywhere) or the namespace's Roles allows it."""
    for obj in rbac:
        if obj["kind"] == "ClusterRole" or (obj["kind"] == "Role" and ns is not None
                                            and obj["metadata"]["namespace"] == ns):
            for rule in obj.get("rules") or []:
                if group in rule["apiGroups"] and resource in rule["resources"] \
                        and verb in rule["verbs"]:
                    return True
    return False


def forbidden_status(verb: str, group: str, resource: str, ns: str | None) -> dict:
    return forbidden(forbidden_message(verb, group, resource, ns, USER), resource).status()


@dataclass
class EnforcingReplay:
    """Replay servers per cluster, each enforcing `rbac`; `denied` lists what was refused."""

    rbac: list[dict]
    runners: list[web.AppRunner] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    denied: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    requests: list[tuple[str, str, str, str | None]] = field(default_factory=list)

    def _middleware(self):
        @web.middleware
        async def authorize(request: web.Request, handler):
            info = request_info(request.method, request.path, list(request.query.items()))
            if info is not None:
                self.requests.append(info)
                if not allowed(self.rbac, *info):
                    self.denied.append(info)
                    return web.json_response(forbidden_status(*info), status=403)
            return await handler(request)
        return authorize

    async def start(self, snapshot_dir: Path) -> EnforcingReplay:
        snapshot = Snapshot.open(snapshot_dir)
        for name, cluster in snapshot.clusters.items():
            app = build_app(cluster, captured_at=snapshot.captured_at, stats=ReplayStats())
            app.middlewares.insert(0, self._middleware())  # before the app is frozen
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            self.runners.append(runner)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.urls[name] = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return self

    def kubeconfig(self) -> dict:
        return build_kubeconfig(self.urls)

    async def close(self) -> None:
        for runner in self.runners:
            await runner.cleanup()
