"""Help → About: what Bridge Lab is and the versions a bug report needs."""

from __future__ import annotations

import html
import platform
import sqlite3
from importlib import metadata

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from bridgelab import __version__

PACKAGES = (("pyserial", "pyserial"), ("sqlite-utils", "sqlite-utils"),
            ("cryptography", "cryptography"))  # fmt: skip


def versions() -> list[tuple[str, str]]:
    rows = [
        ("Bridge Lab", __version__),
        ("Python", platform.python_version()),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
    ]
    for label, package in PACKAGES:
        try:
            rows.append((label, metadata.version(package)))
        except metadata.PackageNotFoundError:
            rows.append((label, "not installed"))
    rows.append(("SQLite", sqlite3.sqlite_version))
    rows.append(("System", platform.platform()))
    return rows


def about_html() -> str:
    table = "".join(
        f"<tr><td>{html.escape(name)}</td><td><b>{html.escape(value)}</b></td></tr>"
        for name, value in versions()
    )
    return (
        "<h3>Bridge Lab</h3>"
        "<p>Identify, diagnose, update and triage Alt HAN point-to-point bridges, on real "
        "hardware or on the emulated bridge that ships with it.</p>"
        f"<table cellspacing='4'>{table}</table>"
    )


def show_about(parent: QWidget | None) -> None:
    QMessageBox.about(parent, "About Bridge Lab", about_html())
