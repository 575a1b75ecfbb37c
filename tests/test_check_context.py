"""The view checks run against: views derived from facts are built once per diagnosis and
shared, yet every check still declares (and is recorded as reading) what they are built from."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from diagnostics.catalog import default_catalog
from diagnostics.checks.base import CheckContext, CheckSpec, UndeclaredInput
from diagnostics.inputs import ISTIOD_PODS, SYNCZ


def _ctx(spec: CheckSpec, shared: dict) -> CheckContext:
    return CheckContext(spec, {}, {}, [], datetime(2026, 11, 21, tzinfo=timezone.utc),
                        default_catalog(), shared=shared)


def test_a_derived_view_is_built_once_and_counts_as_read_by_every_check():
    builds = []
    first = CheckSpec("first", "First", (SYNCZ, ISTIOD_PODS), (), lambda ctx: [])
    second = CheckSpec("second", "Second", (SYNCZ,), (), lambda ctx: [])
    shared: dict = {}
    a, b = _ctx(first, shared), _ctx(second, shared)
    view_a = a.derived("view", (SYNCZ,), lambda: builds.append(1) or ["parsed"])
    view_b = b.derived("view", (SYNCZ,), lambda: builds.append(1) or ["again"])
    assert view_a is view_b and builds == [1]
    assert a.reads == {SYNCZ} and b.reads == {SYNCZ}


def test_a_derived_view_over_undeclared_inputs_is_refused():
    spec = CheckSpec("narrow", "Narrow", (SYNCZ,), (), lambda ctx: [])
    with pytest.raises(UndeclaredInput):
        _ctx(spec, {}).derived("view", (SYNCZ, ISTIOD_PODS), lambda: "built")


def test_separate_diagnoses_do_not_share_views():
    spec = CheckSpec("one", "One", (SYNCZ,), (), lambda ctx: [])
    assert _ctx(spec, {}).derived("v", (SYNCZ,), lambda: "first") == "first"
    assert _ctx(spec, {}).derived("v", (SYNCZ,), lambda: "second") == "second"
