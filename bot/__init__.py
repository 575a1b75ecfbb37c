"""meshbot's Slack side and command line.

`__version__` comes from the installed distribution's metadata, which pyproject.toml's
`version` sets: one source for `meshbot --version`, `meshbot_build_info` and the image tag the
manifests name (tests/test_package.py keeps them equal).
"""

from importlib import metadata

try:
    __version__ = metadata.version("meshbot")
except metadata.PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0+unknown"
