"""The report a diagnosis produces (contract C2) and the pieces checks build it from.

Checks emit `Finding`s (an id from the catalog plus parameters) inside `Step`s; renderers turn a
`Report` into terminal text, JSON or Slack blocks. Nothing here holds user-facing prose except
what the catalog renders into a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "warn", "skip", "error"]
Severity = Literal["error", "warning", "info"]
Verdict = Literal["problem", "healthy", "expected", "inconclusive"]

SCHEMA = "meshbot.report/v1"
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


# What can establish a cluster's Istio cluster id (ClusterInfo.id_origin), besides what the
# cluster itself states (diagnostics/identity.py).
DECLARED = "declared"
CONFIG_FILE = "config file"
ENV_NAME = "MESHBOT_CLUSTER_NAME"
SNAPSHOT_FOLDER = "snapshot folder"
OVERRIDES = (CONFIG_FILE, ENV_NAME)  # an operator's explicit word: it names the cluster


@dataclass(frozen=True)
class ClusterInfo:
    """What a check may know about a cluster besides its facts.

    `name` is the cluster's Istio cluster id whenever `id_origin` says what established it (the
    cluster's own istiod, install or proxies; the config file; a snapshot's folder). With
    `id_origin` None the id is unknown and `name` is only what the source calls the cluster
    (a kubeconfig context): no finding may rest on comparing it with ids."""

    name: str
    istio_namespace: str = "istio-system"
    context: str | None = None  # kubeconfig context; used in fix commands
    id_origin: str | None = DECLARED  # what established the cluster id; None: unknown
    source_key: str | None = None  # the source's name for the cluster, when it differs
    notes: tuple[str, ...] = ()  # what the cluster says about its id besides `name`
    carried_id: str | None = None  # the id it carries where that cannot be its name: another
    # cluster read carries it too, or an operator's override names the cluster otherwise
    discovered_id: str | None = None  # what the cluster says, where an override names it else
    named_by: str | None = None  # that override (config file, MESHBOT_CLUSTER_NAME)

    @property
    def context_name(self) -> str:
        return self.context or self.name

    @property
    def cluster_id(self) -> str | None:
        """The Istio cluster id it carries (None: unknown): what istiod compares secret keys,
        clusterz entries and proxy metadata with. Equal to `name`, except when the id is
        shared with another cluster (which then cannot name either) or an override names the
        cluster otherwise."""
        if self.carried_id:
            return self.carried_id
        return self.name if self.id_origin else None

    @property
    def key(self) -> str:
        """How the source addresses the cluster."""
        return self.source_key or self.name

    @property
    def id_known(self) -> bool:
        return self.id_origin is not None

    @property
    def label(self) -> str:
        """`cluster1 (context kind-east)` where the context differs from the id."""
        if self.context and self.context != self.name:
            return f"{self.name} (context {self.context})"
        return self.name


@dataclass
class Finding:
    """One catalog id observed in one place, with the parameters its texts are rendered from."""

    id: str
    cluster: str | None = None
    resource: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)
    severity: Severity | None = None  # None: the catalog's default


@dataclass
class Step:
    """One step of a runbook as run against one cluster (or the whole mesh when cluster is None)."""

    title: str
    status: Status
    cluster: str | None = None
    evidence: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    check: str = ""
    incomplete: bool = False  # an input this step needed could not be read
    data: dict[str, Any] = field(default_factory=dict)  # figures for summaries (digest trends)


@dataclass
class RenderedFinding:
    """A finding with its catalog texts filled in, as it appears in a report."""

    id: str
    severity: Severity
    cluster: str | None
    resource: str | None
    title: str
    summary: str
    cause: str
    evidence: list[str]
    fix: list[str]
    commands: list[str]
    why: str
    docs: str
    rank: int
    by_design: bool
    basis: list[str] = field(default_factory=list)  # evidence a destructive fix rests on

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id, "severity": self.severity, "cluster": self.cluster,
            "resource": self.resource, "title": self.title, "cause": self.cause,
            "evidence": self.evidence, "fix": self.fix, "commands": self.commands,
            "why": self.why, "docs": self.docs,
            # extensions: what renderers need to show a cached report again
            "summary": self.summary, "rank": self.rank, "by_design": self.by_design,
        }
        if self.basis:
            out["basis"] = self.basis  # extension: what the commands that delete rest on
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RenderedFinding":
        return cls(id=d["id"], severity=d["severity"], cluster=d.get("cluster"),
                   resource=d.get("resource"), title=d["title"], summary=d.get("summary", ""),
                   cause=d["cause"], evidence=list(d.get("evidence") or []),
                   fix=list(d.get("fix") or []), commands=list(d.get("commands") or []),
                   why=d["why"], docs=d["docs"], rank=int(d.get("rank", 0)),
                   by_design=bool(d.get("by_design", False)),
                   basis=list(d.get("basis") or []))


@dataclass
class SourceError:
    """Something that could not be read: which cluster, from where, and why."""

    cluster: str
    source: str  # kubernetes | istiod | envoy | snapshot
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"cluster": self.cluster, "source": self.source, "message": self.message}


@dataclass
class ClusterStatus:
    """A cluster as the report names it: its Istio cluster id, how meshbot reached it (the
    kubeconfig context), and what established the id (`id_origin` None: not discovered)."""

    name: str
    reachable: bool
    context: str | None = None
    id_origin: str | None = DECLARED
    cluster_id: str | None = None  # when it differs from `name` (shared, or overridden)

    @property
    def label(self) -> str:
        """How reports introduce the cluster: its id, and its context where that differs;
        what the id is where it cannot name the cluster."""
        extra = []
        if self.context and self.context != self.name:
            extra.append(f"context {self.context}")
        if not self.id_origin:
            extra.append("cluster id unknown")
        elif self.cluster_id and self.cluster_id != self.name:
            extra.append(f"cluster id {self.cluster_id}")
        return f"{self.name} ({'; '.join(extra)})" if extra else self.name

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "reachable": self.reachable}
        if self.context:
            out["context"] = self.context  # extension: where it differs from the id, both show
        out["cluster_id"] = (self.cluster_id or self.name) if self.id_origin else None  # ext.
        out["id_origin"] = self.id_origin  # extension: what says so
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ClusterStatus":
        cid = d.get("cluster_id")
        return cls(d["name"], bool(d["reachable"]), d.get("context"),
                   d.get("id_origin", DECLARED), cid if cid != d["name"] else None)


@dataclass
class Report:
    """The answer to one command, JSON-able as contract C2."""

    command: str
    args: dict[str, Any]
    verdict: Verdict
    summary: str
    clusters: list[ClusterStatus]
    steps: list[Step]
    findings: list[RenderedFinding]
    errors: list[SourceError]
    duration_ms: float
    api_calls: int
    cached: bool
    generated_at: str
    step_refs: list[list[int]] = field(default_factory=list)  # per step: indexes into findings
    extra: dict[str, Any] = field(default_factory=dict)
    calls_by_cluster: dict[str, int] = field(default_factory=dict)  # for metrics; not in JSON
    read_seconds_by_cluster: dict[str, float] = field(default_factory=dict)  # for metrics too

    def step_findings(self, index: int) -> list[RenderedFinding]:
        """The rendered findings of step `index` (0-based)."""
        refs = self.step_refs[index] if index < len(self.step_refs) else []
        return [self.findings[i] for i in refs]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "command": self.command,
            "args": self.args,
            "verdict": self.verdict,
            "summary": self.summary,
            "clusters": [c.to_dict() for c in self.clusters],
            "steps": [
                {"title": s.title, "status": s.status, "cluster": s.cluster,
                 "evidence": s.evidence, "findings": [f.id for f in s.findings],
                 "finding_indexes": self.step_refs[i] if i < len(self.step_refs) else [],
                 "check": s.check, **({"data": s.data} if s.data else {})}
                for i, s in enumerate(self.steps)
            ],
            "findings": [f.to_dict() for f in self.findings],
            "errors": [e.to_dict() for e in self.errors],
            "duration_ms": round(self.duration_ms, 1),
            "api_calls": self.api_calls,
            "cached": self.cached,
            "generated_at": self.generated_at,
        }
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Report":
        """A report read back from its JSON (a cached answer); steps keep their finding refs."""
        findings = [RenderedFinding.from_dict(f) for f in d.get("findings") or []]
        steps, refs = [], []
        for s in d.get("steps") or []:
            indexes = list(s.get("finding_indexes") or [])
            steps.append(Step(s["title"], s["status"], s.get("cluster"), list(s.get("evidence") or []),
                              [Finding(findings[i].id, findings[i].cluster, findings[i].resource)
                               for i in indexes], s.get("check", ""), data=dict(s.get("data") or {})))
            refs.append(indexes)
        known = {"schema", "command", "args", "verdict", "summary", "clusters", "steps", "findings",
                 "errors", "duration_ms", "api_calls", "cached", "generated_at"}
        return cls(
            command=d["command"], args=dict(d.get("args") or {}), verdict=d["verdict"],
            summary=d["summary"],
            clusters=[ClusterStatus.from_dict(c) for c in d.get("clusters") or []],
            steps=steps, findings=findings,
            errors=[SourceError(e["cluster"], e["source"], e["message"]) for e in d.get("errors") or []],
            duration_ms=float(d.get("duration_ms", 0)), api_calls=int(d.get("api_calls", 0)),
            cached=bool(d.get("cached", False)), generated_at=d.get("generated_at", ""),
            step_refs=refs, extra={k: v for k, v in d.items() if k not in known},
        )
