"""Every check module; importing this package registers them all in `base.REGISTRY`.

Modules are discovered rather than listed, so adding a check is adding a module.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")
