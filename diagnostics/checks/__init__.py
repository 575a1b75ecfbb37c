"""Every check, one module each, named for the check it holds; importing this package
registers them all in `diagnostics.checking.REGISTRY`.

Modules are discovered rather than listed, so adding a check is adding a module. What checks
share (views of the mesh built from facts) lives in diagnostics/views/, the framework in
diagnostics/checking.py.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
