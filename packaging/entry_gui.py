"""PyInstaller entry point of `bridgelab-gui`: the windowed launcher on Windows and macOS.

It is `bridgelab gui` with any extra arguments, built without a console window, so the
Start menu and the Finder open the application and no terminal beside it.
"""

import sys

from bridgelab.cli import main

sys.exit(main(["gui", *sys.argv[1:]]))
