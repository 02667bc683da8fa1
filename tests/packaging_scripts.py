"""Load the scripts in packaging/ (not a package: its name would shadow PyPI's `packaging`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGING_DIR = Path(__file__).resolve().parents[1] / "packaging"


def load_script(name: str) -> ModuleType:
    """packaging/<name>.py as a module, registered under its own name (make_deb imports
    linux_bundle by that name, as it does when run from the build venv)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PACKAGING_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
