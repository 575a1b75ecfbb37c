"""Every check, one module each, named for the check it holds (`proxy-sync`: proxy_sync.py).

Importing a check's module registers it in `diagnostics.checking.REGISTRY`, which imports the
module of a check when the check is first asked for, and every module when it is listed: a
diagnosis loads the checks it runs, not the 42. Modules are discovered rather than listed, so
adding a check is adding a module. What checks share (views of the mesh built from facts)
lives in diagnostics/views/, the framework in diagnostics/checking.py.
"""

import pkgutil


def module_names() -> list[str]:
    """Every check module's full name: what listing the registry imports, and what a bot's
    children preload."""
    return [f"{__name__}.{module.name}" for module in pkgutil.iter_modules(__path__)]
