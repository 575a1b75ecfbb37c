"""meshbot's configuration file (contract C5), validated once at start.

msgspec validates it (the decoder meshbot reads JSON with): every error names the file, the
key path and the problem. pydantic did before, at 0.06 s of imports and model building in
every `meshbot mesh` of live clusters (0.36 -> 0.30 s with the kubernetes client, which
imports a little of pydantic itself), 0.1 s over a snapshot. msgspec stops at the first
problem; the command names of `permissions`, the likeliest to be misspelt several at once,
are all reported together. Secrets never live here: tokens come from the environment only.
"""

from __future__ import annotations

import difflib
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml
from cronsim import CronSim, CronSimError

from diagnostics import yaml_text

DEFAULT_CLUSTER_TIMEOUT = 10.0

# The commands of contract C1, the names `permissions` may use. diagnostics/ cannot import the
# command table (handlers/), so the names live here; tests/test_config.py keeps the two equal.
COMMAND_NAMES = ("help", "why-local-only", "remote-clusters", "control-plane", "trust",
                 "proxy-status", "check", "topology", "digest", "ping")

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
AtLeastZero = Annotated[float, msgspec.Meta(ge=0)]


class ConfigError(Exception):
    """A configuration problem, phrased as `file: key: problem` lines."""


class _Problems(ConfigError):
    """Several problems at once, as (key path, problem): not a ValueError, so that msgspec
    lets it through as it is instead of keeping its first line."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{key}: {problem}" for key, problem in problems))
        self.problems = problems


def _field_problem(field: str, problem: str) -> ValueError:
    """A problem of one field, raised where the object holding it is checked: the error
    names the object's path, the field is named first (_format_error joins them)."""
    return ValueError(f"{field}: {problem}")


class _Strict(msgspec.Struct, forbid_unknown_fields=True):
    pass


class ClusterConfig(_Strict):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
    context: str | None = None
    kubeconfig: str | None = None  # extension: a kubeconfig file for this cluster only
    istio_namespace: str = "istio-system"
    istiod_url: str | None = None

    def __post_init__(self) -> None:
        url = self.istiod_url
        if url is not None and not url.startswith(("http://", "https://")):
            raise _field_problem("istiod_url", "must start with http:// or https://")
        self.istiod_url = url.rstrip("/") if url else url


def _unknown_command(name: str) -> str | None:
    """Why `name` is no command, or None: a misspelt command name would silently leave the
    real command unrestricted."""
    if name in COMMAND_NAMES:
        return None
    close = difflib.get_close_matches(name, COMMAND_NAMES, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"commands: {', '.join(COMMAND_NAMES)}"
    return f"unknown command {name!r}; {hint}"


class Permissions(_Strict):
    channels: dict[str, list[str]] = {}
    restricted_commands: dict[str, list[str]] = {}
    diagnoses_per_user_per_minute: Annotated[int, msgspec.Meta(ge=1)] = 10  # extension

    def __post_init__(self) -> None:
        named = [(f"permissions.channels.{channel}[{i}]", name)
                 for channel, names in self.channels.items() for i, name in enumerate(names)]
        named += [(f"permissions.restricted_commands.{name}", name)
                  for name in self.restricted_commands]
        unknown = [(key, why) for key, name in named if (why := _unknown_command(name))]
        if unknown:
            raise _Problems(unknown)
        if "help" in self.restricted_commands:
            raise _field_problem("restricted_commands",
                                 "'help' always works and cannot be restricted")
        empty = [name for name, groups in self.restricted_commands.items() if not groups]
        if empty:  # an empty list would read as "restricted" yet let everyone in
            raise _field_problem("restricted_commands", f"{', '.join(empty)}: list the Slack "
                                 "user group ids (S…) that may run it, or remove the entry")


class DigestConfig(_Strict):
    channel: NonEmpty
    cron: NonEmpty
    timezone: str = "UTC"
    skip_if_healthy: bool = False
    grace_minutes: float = 10

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise _field_problem("timezone",
                                 f"unknown IANA time zone {self.timezone!r}") from None
        if len(self.cron.split()) != 5:
            raise _field_problem("cron", "must be a standard five-field cron expression")
        try:
            CronSim(self.cron, datetime(2026, 1, 1))
        except CronSimError as exc:
            raise _field_problem("cron", f"not a valid cron expression: {exc}") from None


class AlertRoute(_Strict):
    channel: NonEmpty
    match: dict[str, str] = {}


class Incidents(_Strict):
    alertmanager_routes: list[AlertRoute] = []
    channel_name_patterns: list[str] = []


class CacheConfig(_Strict):
    ttl_seconds: AtLeastZero = 60  # finished reports
    facts_ttl_seconds: AtLeastZero = 15  # extension: fetched facts, per cluster


class DiagnosisConfig(_Strict):
    """Extension: how diagnoses reach clusters."""

    cluster_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = DEFAULT_CLUSTER_TIMEOUT
    max_concurrent: Annotated[int, msgspec.Meta(ge=1)] = 4  # per replica; more asks wait
    # Each live diagnosis in a child process of its own (bot/isolated.py): the bot's
    # process stays flat however big the mesh. Unset means isolated: facts are shared
    # between children through Redis only, and without it each child reads its own.
    isolated: bool | None = None


class UploadsConfig(_Strict):
    """Extension: archives (istioctl bug-reports, meshbot snapshots) uploaded to Slack with a
    command are diagnosed. The limits bound what one upload may cost: the download, the
    files it unpacks to, and their total size."""

    enabled: bool = True
    max_archive_mib: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 100
    max_unpacked_mib: Annotated[int, msgspec.Meta(ge=1, le=16384)] = 2048
    max_files: Annotated[int, msgspec.Meta(ge=10, le=1_000_000)] = 50_000


class Config(_Strict):
    clusters: list[ClusterConfig] = []
    permissions: Permissions = msgspec.field(default_factory=Permissions)
    digests: list[DigestConfig] = []
    incidents: Incidents = msgspec.field(default_factory=Incidents)
    cache: CacheConfig = msgspec.field(default_factory=CacheConfig)
    diagnosis: DiagnosisConfig = msgspec.field(default_factory=DiagnosisConfig)
    uploads: UploadsConfig = msgspec.field(default_factory=UploadsConfig)

    def __post_init__(self) -> None:
        names = [c.name for c in self.clusters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise _field_problem("clusters", "cluster names must be unique; repeated: "
                                 + ", ".join(dupes))


# msgspec's messages: "<problem> - at `$.clusters[0]`" ("$" alone: the top level).
# A mapping's key that is not one: "<problem> - at `key` in `$.permissions.channels`".
_AT = re.compile(r"^(?P<problem>.*?)(?: - at (?P<of_key>`key` in )?`\$(?P<path>[^`]*)`)?$",
                 re.DOTALL)
_KEY_PROBLEMS = ((re.compile(r"^Object contains unknown field `(?P<key>[^`]+)`$"), "unknown key"),
                 (re.compile(r"^Object missing required field `(?P<key>[^`]+)`$"), "required"))
_YAML_WORD = {"array": "list", "object": "mapping", " | ": " or "}
_YAML_WORDS = re.compile(r"\barray\b|\bobject\b| \| ")
_FIELD_FIRST = re.compile(r"^(?P<key>[a-z_]+): (?P<problem>.*)$", re.DOTALL)


def _format_error(path: str, exc: msgspec.ValidationError) -> str:
    """`file: key.path: problem`, a key path as the file spells it (`clusters[0].name`)."""
    match = _AT.match(str(exc))
    assert match is not None  # the pattern matches any text
    where, problem = (match["path"] or "").lstrip("."), match["problem"]
    key = None
    for pattern, says in _KEY_PROBLEMS:
        if m := pattern.match(problem):
            key, problem = m["key"], says
            break
    else:
        if m := _FIELD_FIRST.match(problem):  # _field_problem's
            key, problem = m["key"], m["problem"]
    if key is not None:
        where = f"{where}.{key}" if where else key
    problem = re.sub(r"^Expected ", "must be ", problem)
    problem = re.sub(r"`([^`]*)`", lambda m: _YAML_WORDS.sub(
        lambda w: _YAML_WORD[w[0]], m[1]), problem)  # the file's words, not JSON's
    if match["of_key"]:
        problem = f"a key {problem}"
    return f"{path}: {where or '(top level)'}: {problem}"


def parse_config(data: Any, path: str = "<config>") -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: (top level): must be a mapping")
    try:
        return msgspec.convert(data, Config, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_format_error(path, exc)) from None
    except _Problems as exc:
        raise ConfigError("\n".join(f"{path}: {key}: {problem}"
                                    for key, problem in exc.problems)) from None


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
