"""Reading Prometheus' text format in tests: with prometheus_client's own parser, so a test
sees exactly what a Prometheus scrape would."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[str, float]:
    """{`name{label="value",...}` (labels sorted): value} of every sample in a scrape."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


def families(text: str) -> dict[str, str]:
    """{family name: type} of a scrape (a histogram's family is its base name)."""
    return {f.name: f.type for f in text_string_to_metric_families(text)}
