"""YAML read (and, where it is hot, written) by libyaml, which PyYAML's wheels are built with.

PyYAML's pure-Python scanner takes about a millisecond for a kubeconfig: ten clusters hold
ninety remote secrets, each parsed to redact it and again to inspect it, plus mesh configs and
injector values, a tenth of a second of a diagnosis. libyaml parses the same documents into
the same objects (the constructor is PyYAML's in both) several times faster. Without it (a
PyYAML built from source without libyaml) the pure-Python classes do the same work.
"""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load(text: Any) -> Any:
    """yaml.safe_load, by libyaml."""
    return yaml.load(text, Loader=SafeLoader)


def dump(data: Any, **options: Any) -> str:
    """yaml.safe_dump to a string, by libyaml."""
    return yaml.dump(data, Dumper=SafeDumper, **options)
