"""Check declarations and the read-only view checks run against.

A check is a pure function `ctx -> list[Step]`, registered with the inputs it reads and the
finding ids it may emit. The context refuses undeclared reads and undeclared ids, and records
what was read, so meta-tests can prove every declaration is honest in both directions.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Hashable, Iterable, TypeVar

from diagnostics.catalog import Catalog
from diagnostics.facts import Fact, Unavailable
from diagnostics.inputs import Input, Scope
from diagnostics.model import (ClusterInfo, Finding, OVERRIDES, SNAPSHOT_FOLDER, Severity, Status,
                               Step)


class UndeclaredInput(Exception):
    """A check read an input it did not declare: its metadata is wrong."""


class UndeclaredFinding(Exception):
    """A check emitted a finding id it did not declare."""


CheckFunc = Callable[["CheckContext"], list[Step]]
T = TypeVar("T")


@dataclass(frozen=True)
class CheckSpec:
    name: str
    title: str
    inputs: tuple[Input, ...]
    emits: tuple[str, ...]
    func: CheckFunc
    description: str = ""


_CHECK_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class Registry(Mapping[str, CheckSpec]):
    """Every check by name, each loaded when first asked for.

    A check lives in the module of diagnostics/checks/ named for it (`proxy-sync`:
    proxy_sync.py; tests/test_checks_meta.py holds every module to it), and importing the
    module registers it. A diagnosis asks for the checks its plan runs, and only their
    modules are imported: proxy-status runs 7 of the 42, and its plan took 0.009 s of
    imports instead of 0.05. Listing the registry (the catalog, the meta-tests) imports
    every module."""

    def __init__(self) -> None:
        self._specs: dict[str, CheckSpec] = {}
        self._complete = False
        self._lock = threading.Lock()

    def add(self, spec: CheckSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"check {spec.name!r} registered twice")
        self._specs[spec.name] = spec

    def __getitem__(self, name: str) -> CheckSpec:
        spec = self._specs.get(name)
        if spec is None and not self._complete and _CHECK_NAME.fullmatch(name):
            module = f"diagnostics.checks.{name.replace('-', '_')}"
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:  # a module the check imports is missing: not ours
                    raise
            spec = self._specs.get(name)
        if spec is None:
            raise KeyError(name)
        return spec

    def __iter__(self) -> Iterator[str]:
        self._load_all()
        return iter(self._specs)

    def __len__(self) -> int:
        self._load_all()
        return len(self._specs)

    def _load_all(self) -> None:
        with self._lock:
            if self._complete:
                return
            from diagnostics.checks import module_names

            for module in module_names():
                importlib.import_module(module)
            self._complete = True


REGISTRY = Registry()


def check(name: str, *, title: str, inputs: Iterable[Input], emits: Iterable[str] = ()
          ) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check; the first paragraph of its docstring becomes its description, listed
    by `meshbot catalog --output markdown` and `--output json`."""

    def register(func: CheckFunc) -> CheckFunc:
        REGISTRY.add(CheckSpec(name, title, tuple(inputs), tuple(emits), func,
                               _first_paragraph(func.__doc__ or "")))
        return func

    return register


def _first_paragraph(doc: str) -> str:
    """The docstring's first paragraph on one line (docstrings wrap their first sentence)."""
    return " ".join(doc.strip().split("\n\n")[0].split())


@dataclass
class CheckContext:
    """The facts of every cluster, as one check may see them."""

    spec: CheckSpec
    facts: dict[tuple[str, Input], Fact]
    args: dict[str, Any]
    clusters: list[ClusterInfo]
    now: datetime
    catalog: Catalog
    focus: list[str] = field(default_factory=list)  # clusters whose view is examined
    reads: set[Input] = field(default_factory=set)
    shared: dict[Hashable, Any] = field(default_factory=dict)  # one diagnosis' derived views
    unread: list[Unavailable] = field(default_factory=list)  # inputs that were missing

    @property
    def cluster_names(self) -> list[str]:
        """Every cluster of the mesh that was read."""
        return [c.name for c in self.clusters]

    def info(self, cluster: str) -> ClusterInfo:
        return next(c for c in self.clusters if c.name == cluster)

    def label(self, cluster: str) -> str:
        """`cluster1 (context kind-east)`: how evidence names a cluster read."""
        return self.info(cluster).label if cluster in self.cluster_names else cluster

    def known_ids(self) -> dict[str, str]:
        """Cluster id → the cluster read that carries it, for ids carried by one cluster only.
        A cluster whose id is unknown or shared is left out: nothing may be matched to it."""
        ids = [c.cluster_id for c in self.clusters if c.cluster_id]
        return {c.cluster_id: c.name for c in self.clusters
                if c.cluster_id and ids.count(c.cluster_id) == 1}

    def id_basis(self, cluster: str) -> str | None:
        """The evidence that `cluster` itself states its id, for fixes that delete or overwrite
        on the strength of that id; None when the id was only named (a snapshot folder, an
        operator's override) or is unknown. (`declared` is what code building a ClusterInfo
        directly asserts, as tests do.)"""
        info = self.info(cluster)
        if info.id_origin is None or info.id_origin == SNAPSHOT_FOLDER or \
                info.id_origin in OVERRIDES or info.named_by:
            return None
        return f"{info.label} states its cluster id {info.cluster_id} ({info.id_origin})"

    def peers_by_id(self, cluster: str) -> tuple[dict[str, str], list[str]]:
        """The other clusters read, as ({their id: their name}, [names whose id is unknown or
        shared]): what a primary's remote secrets, clusterz and shards must be compared with."""
        known = self.known_ids()
        own = self.info(cluster).cluster_id
        ids = {i: n for i, n in known.items() if n != cluster and i != own}
        unsure = [c for c in self.cluster_names if c != cluster and c not in ids.values()
                  and not (own and self.info(c).cluster_id == own)]
        return ids, unsure

    def get(self, inp: Input, cluster: str) -> Any:
        """The value of a declared input for a cluster; raises Unavailable when it is missing."""
        if inp not in self.spec.inputs:
            raise UndeclaredInput(f"check {self.spec.name} read undeclared input {inp}")
        self.reads.add(inp)
        fact = self.facts.get((cluster, inp))
        istio = next((c.istio_namespace for c in self.clusters if c.name == cluster),
                     "istio-system")
        missing = fact.missing if fact is not None else Unavailable(
            cluster, inp.describe_in(Scope.of(istio, self.args)), "not fetched", captured=False)
        if missing is not None:
            self.unread.append(missing)
            raise missing
        return fact.value

    def settle(self, steps: list[Step]) -> list[Step]:
        """A step that could not see everything and found nothing wrong is no pass: it is an
        error when a read failed, a skip when the source (a snapshot) lacks the input."""
        for step in steps:
            if step.incomplete and step.status == "pass":
                step.status = "error" if any(e.captured for e in self.unread) else "skip"
        return steps

    def derived(self, key: Hashable, reads: tuple[Input, ...], build: Callable[[], T]) -> T:
        """A view built from facts once per diagnosis and shared by the checks that need it:
        several checks read thousands of proxies' syncz, which should be parsed once.

        `reads` are the inputs `build` reads: each must be declared by this check, and counts
        as read by it whether or not the view was already built."""
        for inp in reads:
            if inp not in self.spec.inputs:
                raise UndeclaredInput(f"check {self.spec.name} read undeclared input {inp}")
        self.reads.update(reads)
        if key not in self.shared:
            self.shared[key] = build()
        return self.shared[key]

    def available(self, inp: Input) -> dict[str, Any]:
        """The input's value for every cluster where it could be read."""
        out = {}
        for c in self.cluster_names:
            try:
                out[c] = self.get(inp, c)
            except Unavailable:
                continue
        return out

    def finding(self, finding_id: str, cluster: str | None = None, resource: str | None = None,
                evidence: Iterable[str] = (), severity: Severity | None = None,
                **params: Any) -> Finding:
        """A finding with the cluster's context and Istio namespace filled in for fix commands."""
        if finding_id not in self.spec.emits:
            raise UndeclaredFinding(f"check {self.spec.name} emitted undeclared id {finding_id}")
        base: dict[str, Any] = {}
        if cluster and cluster in self.cluster_names:
            info = self.info(cluster)
            base.update(context=info.context_name, istio_namespace=info.istio_namespace)
        peer = params.get("peer_cluster")
        if peer and peer in self.cluster_names:
            peer_info = self.info(peer)
            base.update(peer_context=peer_info.context_name,
                        peer_istio_namespace=peer_info.istio_namespace)
        base.update(self.args_params())
        base.update(params)
        return Finding(finding_id, cluster, resource, base, list(evidence), severity)

    def args_params(self) -> dict[str, Any]:
        return {k: v for k, v in self.args.items() if k in ("service", "namespace")}

    def step(self, title: str, cluster: str | None, evidence: Iterable[str] = (),
             findings: Iterable[Finding] = (), status: Status | None = None) -> Step:
        """A step whose status follows its worst finding unless given."""
        found = list(findings)
        return Step(title, status or status_for(found, self.catalog), cluster, list(evidence),
                    found, self.spec.name)

    def unavailable_step(self, title: str, cluster: str | None, exc: Unavailable) -> Step:
        status: Status = "error" if exc.captured else "skip"
        verb = "could not read" if exc.captured else "not captured:"
        line = f"not checked: {exc.reason}" if exc.withheld else \
            f"{verb} {exc.what} ({exc.reason})"
        return Step(title, status, cluster, [line], [], self.spec.name, incomplete=True)


def status_for(findings: list[Finding], catalog: Catalog) -> Status:
    """fail for an error finding, warn for a warning, pass otherwise (info is not a problem)."""
    levels = {f.severity or catalog.entry(f.id).severity for f in findings}
    if "error" in levels:
        return "fail"
    if "warning" in levels:
        return "warn"
    return "pass"


def per_cluster(ctx: CheckContext, title: str, clusters: Iterable[str],
                body: Callable[[str], Step | None]) -> list[Step]:
    """Run `body` for each cluster; a cluster whose inputs are missing gets a skip/error step."""
    steps = []
    for cluster in clusters:
        try:
            step = body(cluster)
        except Unavailable as exc:
            step = ctx.unavailable_step(title, cluster, exc)
        if step is not None:
            steps.append(step)
    return steps
