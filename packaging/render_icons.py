"""Render packaging/icons/bridgelab.svg to the PNG, ICO and ICNS files the installers use.

Maintainers run this after editing the SVG and commit the results, so that building a
package needs no image converter: `.venv/bin/python packaging/render_icons.py`.
It uses Qt (QtSvg for rendering, Qt's image plugins for .ico and .icns).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent / "icons"
PNG_SIZES = (16, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 32, 48, 256)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(ICONS / "bridgelab.svg"))
    if not renderer.isValid():
        print("bridgelab.svg is not a valid SVG", file=sys.stderr)
        return 1

    def render(size: int) -> QImage:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        return image

    for size in PNG_SIZES:
        render(size).save(str(ICONS / f"bridgelab-{size}.png"))
    # Qt's ICO writer stores one image per file; the multi-size .ico is written by hand
    # below from PNG-compressed entries, which every Windows since Vista reads.
    _write_ico(ICONS / "bridgelab.ico", [ICONS / f"bridgelab-{s}.png" for s in ICO_SIZES])
    if not render(512).save(str(ICONS / "bridgelab.icns")):
        print("Qt could not write .icns (qicns image plugin missing)", file=sys.stderr)
        return 1
    del app
    return 0


def _write_ico(target: Path, pngs: list[Path]) -> None:
    import struct

    blobs = [p.read_bytes() for p in pngs]
    header = struct.pack("<HHH", 0, 1, len(blobs))
    offset = len(header) + 16 * len(blobs)
    entries = b""
    for blob in blobs:
        width, height = struct.unpack(">II", blob[16:24])  # from the PNG's IHDR chunk
        entries += struct.pack(
            "<BBBBHHII", width % 256, height % 256, 0, 0, 1, 32, len(blob), offset
        )
        offset += len(blob)
    target.write_bytes(header + entries + b"".join(blobs))


if __name__ == "__main__":
    sys.exit(main())
