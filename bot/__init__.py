"""meshbot's Slack side and command line.

`__version__` comes from the installed distribution's metadata, which pyproject.toml's
`version` sets: one source for `meshbot --version`, `meshbot_build_info` and the image tag the
manifests name (tests/test_package.py keeps them equal).
"""

from functools import lru_cache


@lru_cache(maxsize=1)
def _version() -> str:
    from importlib import metadata  # a tenth of a second of imports: only when asked

    try:
        return metadata.version("meshbot")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree never installed
        return "0+unknown"


def __getattr__(name: str) -> str:
    """`bot.__version__`, read from the metadata the first time it is asked for."""
    if name == "__version__":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
