"""Every check module; importing this package registers them all in `base.REGISTRY`."""

from diagnostics.checks import client_view, remote_secrets, services  # noqa: F401
