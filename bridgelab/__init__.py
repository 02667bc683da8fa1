"""Bridge Lab: identify, diagnose, update and triage Alt HAN point-to-point bridges."""

__version__ = "0.1.0"
