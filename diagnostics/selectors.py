"""Kubernetes label and field selectors, evaluated in memory.

The snapshot source and the replay simulator both filter objects the way an API server would,
so that a check sees the same list whether it was fetched live or read from files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

Predicate = Callable[[dict], bool]


class SelectorError(ValueError):
    """A selector string the API server would reject."""


@dataclass(frozen=True)
class Requirement:
    """One requirement of a label selector, as k8s.io/apimachinery/pkg/labels holds it."""

    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        # gt / lt: both sides integers, else no match (Requirement.Matches)
        try:
            have, want = int(value or ""), int(self.values[0])
        except ValueError:
            return False
        return have > want if self.op == "gt" else have < want


# The lexer of k8s.io/apimachinery/pkg/labels/selector.go: these characters end an identifier;
# `in` and `notin` are keywords; everything else (`|`, `~`, …) is part of an identifier.
_SPECIAL = set("=!(),<>")
_OPERATORS = ("==", "!=", "=", "!", "(", ")", ",", ">", "<")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, literal) pairs: kind is the operator itself, "in", "notin" or "id"."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op:
            out.append((op, op))
            i += len(op)
            continue
        j = i
        while j < len(text) and not text[j].isspace() and text[j] not in _SPECIAL:
            j += 1
        word = text[i:j]
        out.append((word if word in ("in", "notin") else "id", word))
        i = j
    return out


def _valid_key(key: str) -> bool:
    """A qualified name: `[prefix/]name`, name ≤ 63 characters, prefix a DNS subdomain."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253
                       or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_NAME_PART.fullmatch(name))


def _valid_value(value: str) -> bool:
    return len(value) <= 63 and bool(_LABEL_VALUE.fullmatch(value))


class _Parser:
    """selector := requirement (',' requirement)*, as apimachinery's Parser reads it."""

    def __init__(self, text: str):
        self.toks, self.pos, self.text = _tokens(text), 0, text

    def peek(self) -> tuple[str, str]:
        return self.toks[self.pos] if self.pos < len(self.toks) else ("end", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.pos += 1
        return tok

    def fail(self, why: str) -> SelectorError:
        return SelectorError(f"unable to parse requirement: {why} in {self.text.strip()!r}")

    def selector(self) -> list[Requirement]:
        reqs = [self.requirement()]
        while self.peek()[0] == ",":
            self.take()
            reqs.append(self.requirement())
        if self.peek()[0] != "end":
            raise self.fail(f"found {self.peek()[1]!r}, expected ','")
        return reqs

    def requirement(self) -> Requirement:
        negated = self.peek()[0] == "!"
        if negated:
            self.take()
        kind, key = self.take()
        if kind not in ("id", "in", "notin"):  # a keyword where a key belongs is a key
            raise self.fail(f"found {key!r}, expected a key")
        if not _valid_key(key):
            raise self.fail(f"invalid label key {key!r}")
        op = self.peek()[0]
        if negated or op in (",", "end"):
            if negated and op not in (",", "end"):
                raise self.fail(f"'!{key}' takes no operator")
            return Requirement(key, "!exists" if negated else "exists")
        self.take()
        if op in ("in", "notin"):
            return Requirement(key, op, self.value_set())
        if op in ("=", "==", "!=", ">", "<"):
            return Requirement(key, {"==": "=", ">": "gt", "<": "lt"}.get(op, op),
                               (self.single(op),))
        raise self.fail(f"found {op!r}, expected an operator")

    def single(self, op: str) -> str:
        kind, value = self.peek()
        if kind in ("id", "in", "notin"):
            self.take()
        elif kind in (",", "end"):
            value = ""
        else:
            raise self.fail(f"found {value!r}, expected a value")
        if op in (">", "<"):
            if not re.fullmatch(r"-?[0-9]+", value):
                raise self.fail(f"{value!r} is not an integer, as {op} needs")
        elif not _valid_value(value):
            raise self.fail(f"invalid label value {value!r}")
        return value

    def value_set(self) -> tuple[str, ...]:
        if self.take()[0] != "(":
            raise self.fail("expected '(' after in/notin")
        values, expect_value = [], True
        while True:
            kind, lit = self.take()
            if kind == ")":
                if expect_value:
                    values.append("")  # `x in ()` and `x in (a,)` hold the empty value
                return tuple(values)
            if kind == ",":
                if expect_value:
                    values.append("")
                expect_value = True
            elif kind in ("id", "in", "notin") and expect_value:
                if not _valid_value(lit):
                    raise self.fail(f"invalid label value {lit!r}")
                values.append(lit)
                expect_value = False
            else:
                raise self.fail(f"found {lit or 'the end'!r} in a value list")


def parse_label_selector(selector: str | None) -> list[Requirement]:
    """Parse a label selector string as the API server does (k8s.io/apimachinery labels.Parse):
    `a=b,c!=d,e in (x,y),!f,g>1`; raise SelectorError for what it rejects."""
    if not selector or not selector.strip():
        return []
    return _Parser(selector).selector()


def label_predicate(selector: str | None) -> Predicate:
    reqs = parse_label_selector(selector)

    def pred(obj: dict) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in reqs)

    return pred


def _lookup(obj: Any, dotted: str) -> str | None:
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    if obj is None:
        return None
    if isinstance(obj, bool):
        return "true" if obj else "false"
    return str(obj)


def field_predicate(selector: str | None) -> Predicate:
    """`metadata.name=x,status.phase!=Running`: equality on dotted paths, as the API server does."""
    if not selector or not selector.strip():
        return lambda obj: True
    terms = []
    for part in selector.split(","):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not m:
            raise SelectorError(f"invalid field selector: {part.strip()!r}")
        terms.append((m.group(1), m.group(2) != "!=", m.group(3)))

    def pred(obj: dict) -> bool:
        for path, equal, value in terms:
            actual = _lookup(obj, path) or ""
            if (actual == value) != equal:
                return False
        return True

    return pred


def selector_matches(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    """A Service/workload `matchLabels`-style selector against labels; empty selects nothing."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def _expression_matches(expr: dict, labels: dict[str, str]) -> bool:
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False  # the API server refuses other operators; an object carrying one selects none


def label_selector_matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels and matchExpressions); None or `{}` selects all."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return all(_expression_matches(e, labels) for e in selector.get("matchExpressions") or [])


_SET_OPERATORS = {"In": "in", "NotIn": "notin"}


def labels_query(labels: dict) -> str:
    """A map of labels (a Service's selector, matchLabels) as a `labelSelector` query."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def selector_query(selector: dict | None) -> str | None:
    """A metav1.LabelSelector as the `labelSelector` query that selects the same objects
    (what LabelSelectorAsSelector builds), so the API server sends only those; None for one
    that selects everything (`{}`) or that no query can say (an operator the API does not
    know, a set without values): the caller reads all and matches in memory."""
    selector = selector or {}
    parts = [labels_query(selector["matchLabels"])] if selector.get("matchLabels") else []
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if not key:
            return None
        if op in _SET_OPERATORS and values:
            parts.append(f"{key} {_SET_OPERATORS[op]} ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            return None
    if not parts:
        return None
    query = ",".join(parts)
    try:
        parse_label_selector(query)
    except SelectorError:  # a key or value the API server would refuse: match in memory
        return None
    return query
