"""PyInstaller entry point of the bundled `bridgelab` command (see bridgelab.spec)."""

import sys

from bridgelab.cli import main

sys.exit(main())
