"""Maps the design card's top-level layer folders into the one `bridgelab` namespace.

`drivers/` installs as `bridgelab.drivers`, `data/` as `bridgelab.data`, and so on, so
that nothing installs a top-level package called `data` or `gui`. Everything else about
the distribution lives in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent
LAYERS = {
    "bridgelab": "bridgelab",
    "bridgelab.drivers": "drivers",
    "bridgelab.zigbee": "zigbee",
    "bridgelab.emulator": "emulator",
    "bridgelab.firmware": "firmware",
    "bridgelab.updates": "updates",
    "bridgelab.data": "data",
    "bridgelab.gui": "gui",
}


def _packages() -> tuple[list[str], dict[str, str]]:
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for name, folder in LAYERS.items():
        package_dir[name] = folder
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            relative = init.parent.relative_to(ROOT / folder)
            if "__pycache__" in relative.parts:
                continue
            packages.append(".".join([name, *relative.parts]))
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
