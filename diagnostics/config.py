"""meshbot's configuration file (contract C5), validated once at start.

pydantic does the validation so every error names the file, the key path and the problem.
Secrets never live here: tokens come from the environment only.
"""

from __future__ import annotations

import difflib
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from cronsim import CronSim, CronSimError
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError,
                      field_validator)

from diagnostics import yaml_text

DEFAULT_CLUSTER_TIMEOUT = 10.0

# The commands of contract C1, the names `permissions` may use. diagnostics/ cannot import the
# command table (handlers/), so the names live here; tests/test_config.py keeps the two equal.
COMMAND_NAMES = ("help", "why-local-only", "remote-clusters", "control-plane", "trust",
                 "proxy-status", "check", "topology", "digest", "ping")


class ConfigError(Exception):
    """A configuration problem, phrased as `file: key: problem` lines."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClusterConfig(_Strict):
    name: str = Field(min_length=1, max_length=253)
    context: str | None = None
    kubeconfig: str | None = None  # extension: a kubeconfig file for this cluster only
    istio_namespace: str = "istio-system"
    istiod_url: str | None = None

    @field_validator("istiod_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/") if v else v


def _known_command(name: str) -> str:
    """A misspelt command name would silently leave the real command unrestricted."""
    if name not in COMMAND_NAMES:
        close = difflib.get_close_matches(name, COMMAND_NAMES, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"commands: {', '.join(COMMAND_NAMES)}"
        raise ValueError(f"unknown command {name!r}; {hint}")
    return name


CommandName = Annotated[str, AfterValidator(_known_command)]


class Permissions(_Strict):
    channels: dict[str, list[CommandName]] = Field(default_factory=dict)
    restricted_commands: dict[CommandName, list[str]] = Field(default_factory=dict)
    diagnoses_per_user_per_minute: int = Field(default=10, ge=1)  # extension

    @field_validator("restricted_commands")
    @classmethod
    def _help_is_open(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        if "help" in v:
            raise ValueError("'help' always works and cannot be restricted")
        empty = [name for name, groups in v.items() if not groups]
        if empty:  # an empty list would read as "restricted" yet let everyone in
            raise ValueError(f"{', '.join(empty)}: list the Slack user group ids (S…) that may "
                             "run it, or remove the entry")
        return v


class DigestConfig(_Strict):
    channel: str = Field(min_length=1)
    cron: str = Field(min_length=1)
    timezone: str = "UTC"
    skip_if_healthy: bool = False
    grace_minutes: float = 10

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r}") from None
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        if len(v.split()) != 5:
            raise ValueError("must be a standard five-field cron expression")
        try:
            CronSim(v, datetime(2026, 1, 1))
        except CronSimError as exc:
            raise ValueError(f"not a valid cron expression: {exc}") from None
        return v


class AlertRoute(_Strict):
    match: dict[str, str] = Field(default_factory=dict)
    channel: str = Field(min_length=1)


class Incidents(_Strict):
    alertmanager_routes: list[AlertRoute] = Field(default_factory=list)
    channel_name_patterns: list[str] = Field(default_factory=list)


class CacheConfig(_Strict):
    ttl_seconds: float = Field(default=60, ge=0)  # finished reports
    facts_ttl_seconds: float = Field(default=15, ge=0)  # extension: fetched facts, per cluster


class DiagnosisConfig(_Strict):
    """Extension: how diagnoses reach clusters."""

    cluster_timeout_seconds: float = Field(default=DEFAULT_CLUSTER_TIMEOUT, gt=0)
    max_concurrent: int = Field(default=4, ge=1)  # per replica; more asks wait their turn
    # Each live diagnosis in a child process of its own (bot/isolated.py): the bot's
    # process stays flat however big the mesh. Unset means isolated: facts are shared
    # between children through Redis only, and without it each child reads its own.
    isolated: bool | None = None


class UploadsConfig(_Strict):
    """Extension: archives (istioctl bug-reports, meshbot snapshots) uploaded to Slack with a
    command are diagnosed. The limits bound what one upload may cost: the download, the
    files it unpacks to, and their total size."""

    enabled: bool = True
    max_archive_mib: int = Field(default=100, ge=1, le=1024)
    max_unpacked_mib: int = Field(default=2048, ge=1, le=16384)
    max_files: int = Field(default=50_000, ge=10, le=1_000_000)


class Config(_Strict):
    clusters: list[ClusterConfig] = Field(default_factory=list)
    permissions: Permissions = Field(default_factory=Permissions)
    digests: list[DigestConfig] = Field(default_factory=list)
    incidents: Incidents = Field(default_factory=Incidents)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    diagnosis: DiagnosisConfig = Field(default_factory=DiagnosisConfig)
    uploads: UploadsConfig = Field(default_factory=UploadsConfig)

    @field_validator("clusters")
    @classmethod
    def _unique(cls, v: list[ClusterConfig]) -> list[ClusterConfig]:
        names = [c.name for c in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"cluster names must be unique; repeated: {', '.join(dupes)}")
        return v


def _format_errors(path: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if p != "[key]"]  # a mapping's key is named by its path
        key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc)
        key = key.replace(".[", "[")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{path}: {key or '(top level)'}: {msg}")
    return "\n".join(lines)


def parse_config(data: Any, path: str = "<config>") -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: (top level): must be a mapping")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc)) from None


def load_config(path: str | None = None) -> Config:
    """Load `path`, or $MESHBOT_CONFIG, or return defaults when neither is set."""
    path = path or os.environ.get("MESHBOT_CONFIG")
    if not path:
        return Config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml_text.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: malformed YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data, path)
