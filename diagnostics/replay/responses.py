"""Kubernetes-shaped responses: `Status` errors and JSON bodies.

Every failure the replay server reports is a `meta/v1 Status`, exactly as a real API server writes
it, because clients key their behaviour on it: the kubernetes Python client raises `ApiException`
with `.status`, kubectl prints `Error from server (<reason>): <message>`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import web

JSON = "application/json"


class ApiError(Exception):
    """An error answered as a `Status` object; raised anywhere below the request handler."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                "status": "Failure", "message": self.message,
                                "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body

    def response(self) -> web.Response:
        return json_response(self.status(), status=self.code)


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    """`pods "x" not found` / `deployments.apps "x" not found`, as the API server words it."""
    label = f"{resource}.{group}" if group else resource
    details = {"name": name, "kind": resource, **({"group": group} if group else {})}
    return ApiError(404, "NotFound", f'{label} "{name}" not found', details)


def no_such_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


# The identity an install of meshbot reads with (deploy/: ServiceAccount meshbot/meshbot).
INSTALL_USER = "system:serviceaccount:meshbot:meshbot"


def forbidden_message(verb: str, group: str, resource: str, namespace: str | None,
                      user: str = INSTALL_USER) -> str:
    """The authorizer's refusal as the API server words it (kubernetes/apiserver,
    pkg/endpoints/handlers/responsewriters/errors.go, forbiddenMessage)."""
    where = f"in the namespace {json.dumps(namespace)}" if namespace else "at the cluster scope"
    return (f"{resource} is forbidden: User {json.dumps(user)} cannot {verb} resource "
            f"{json.dumps(resource)} in API group {json.dumps(group)} {where}")


def forbidden(message: str, resource: str) -> ApiError:
    """403 Forbidden, `apierrors.NewForbidden`'s Status."""
    return ApiError(403, "Forbidden", message, {"kind": resource.split("/")[0]})


def not_captured(what: str) -> ApiError:
    """A resource, log or file the snapshot did not record: distinct from "exists and is empty"."""
    return ApiError(404, "NotFound", f"{what} was not captured in this snapshot")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource "
                    "(meshbot replay serves a read-only snapshot)")


def _json_default(value: Any) -> Any:
    """YAML loads unquoted timestamps as datetimes; write them back as RFC 3339 like Kubernetes."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def dumps(body: Any) -> bytes:
    return json.dumps(body, default=_json_default, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type=JSON)
