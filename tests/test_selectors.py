"""Label selectors read as the API server reads them, on the API server's own test cases.

The strings and label sets below are those of kubernetes' own tests of the parser every list
request goes through: staging/src/k8s.io/apimachinery/pkg/labels/selector_test.go
(https://github.com/kubernetes/kubernetes/blob/01d7e53f7ea4c0c0fd64590998d4c0014ac40600/staging/src/k8s.io/apimachinery/pkg/labels/selector_test.go,
TestSelectorParse, TestSelectorMatches, TestRequirementSelectorMatching,
TestSetSelectorParser). One case differs on purpose: `x,y` is listed there as invalid, which
later releases accept (two existence requirements, as `kubectl get -l app,tier` shows).
"""

from __future__ import annotations

import pytest

from diagnostics.selectors import (SelectorError, label_predicate, label_selector_matches,
                                  selector_query,
                                   parse_label_selector)

GOOD = ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1",
        "x>1,z<5", "\rx", "this-is-a-dns.domain.com/key-with-dash",
        "this-is-another-dns.domain.com/key-with-dash in (so,what)",
        "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)", "foo  in\t (abc)",
        "x notin\n (abc)", "x  notin\t\t\t(abc,def)", "x in (abc,def)", "x in (abc,)", "x in ()",
        "x notin (abc,def),bar,z in (),w", "x,y in (a)", "x=a", "x>1", "x<7", "x=a,y!=b",
        "x=a,y!=b,z in (h,i,j)", "x notin ( )", "x notin (, a)", "a ",
        "a in (x,y,notin, z,in)", "x,y"]
BAD = ["x=a||y=b", "x==a==b", "!x=a", "x<a", ",x,y", "x nott in (y)", "a in (xyz),",
       "a in (xyz)b notin ()", "a in (xyz abc)", "a notin(", "a (", "("]


@pytest.mark.parametrize("text", GOOD)
def test_what_the_api_server_accepts_is_accepted(text):
    parse_label_selector(text)


@pytest.mark.parametrize("text", BAD + ["a=b=c", "x in (a) y", "ab cd=1"])
def test_what_the_api_server_refuses_is_refused(text):
    with pytest.raises(SelectorError):
        parse_label_selector(text)


def _matches(selector: str, labels: dict[str, str]) -> bool:
    return label_predicate(selector)({"metadata": {"labels": labels}})


@pytest.mark.parametrize("selector, labels, match", [
    ("", {"x": "y"}, True), ("x=y", {"x": "y"}, True),
    ("x=y,z=w", {"x": "y", "z": "w"}, True), ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
    ("notin=in", {"notin": "in"}, True), ("x", {"x": "z"}, True), ("!x", {"y": "z"}, True),
    ("x>1", {"x": "2"}, True), ("x<1", {"x": "0"}, True),
    ("x=z", {}, False), ("x=y", {"x": "z"}, False), ("x=y,z=w", {"x": "w", "z": "w"}, False),
    ("x!=y,z!=w", {"x": "z", "z": "w"}, False), ("x", {"y": "z"}, False),
    ("!x", {"x": "z"}, False), ("x>1", {"x": "0"}, False), ("x<1", {"x": "2"}, False),
    ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
    ("x in (foo),y notin (alpha)", {"x": "foo", "y": "baz"}, True),
    ("x in (foo),y in (alpha)", {"x": "foo", "y": "baz"}, False),
    ("x notin (),y", {"y": ""}, True), ("!x,y", {"y": ""}, True),
    ("x notin (),!y", {"y": ""}, False), ("x in ()", {"y": "baz"}, False),
    ("z>1", {"z": "2"}, True), ("z>1", {"z": "v2"}, False),
    # the readings the issue found wrong before: a>1 compares integers, `in(x)` needs no space
    ("a in(x)", {"a": "x"}, True), ("a notin ()", {"a": "b"}, True),
])
def test_matching_as_the_api_server_matches(selector, labels, match):
    assert _matches(selector, labels) is match


def test_the_structured_label_selector_agrees_with_the_string_one():
    """metav1.LabelSelector (matchLabels, matchExpressions) and its string form select alike."""
    sel = {"matchLabels": {"app": "a"},
           "matchExpressions": [{"key": "tier", "operator": "In", "values": ["x", "y"]},
                                {"key": "env", "operator": "DoesNotExist"}]}
    for labels in ({"app": "a", "tier": "x"}, {"app": "a", "tier": "z"},
                   {"app": "a", "tier": "y", "env": "p"}, {"tier": "x"}):
        assert label_selector_matches(sel, labels) is _matches("app=a,tier in (x,y),!env", labels)
    assert label_selector_matches({"matchExpressions": [{"key": "a", "operator": "Bogus"}]},
                                  {"a": "1"}) is False  # the API server refuses the operator


@pytest.mark.parametrize("selector, query", [
    ({"matchLabels": {"app": "sleep", "version": "v1"}}, "app=sleep,version=v1"),
    ({"matchLabels": {"app": "a"},
      "matchExpressions": [{"key": "tier", "operator": "In", "values": ["y", "x"]},
                           {"key": "env", "operator": "NotIn", "values": ["prod"]},
                           {"key": "team", "operator": "Exists"},
                           {"key": "canary", "operator": "DoesNotExist"}]},
     "app=a,tier in (x,y),env notin (prod),team,!canary"),
    ({}, None), (None, None),  # selects everything: the caller reads all
    ({"matchExpressions": [{"key": "a", "operator": "Bogus", "values": ["1"]}]}, None),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, None),
    ({"matchLabels": {"bad key": "x"}}, None),  # the API server would refuse it
])
def test_a_label_selector_is_asked_as_the_query_that_selects_the_same(selector, query):
    """A Deployment's selector becomes its pods' `labelSelector` (check deploy/<name> reads
    only those): the query, where one says it, selects exactly what the selector does."""
    assert selector_query(selector) == query
    if query is None:
        return
    for labels in ({"app": "a", "tier": "x", "team": "t"}, {"app": "a", "tier": "z", "team": "t"},
                   {"app": "a", "tier": "y", "team": "t", "canary": "1"},
                   {"app": "sleep", "version": "v1"}, {"app": "a", "tier": "x", "env": "prod",
                                                       "team": ""}):
        assert _matches(query, labels) is label_selector_matches(selector, labels), labels
