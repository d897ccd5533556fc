"""Temporary: cli.py still imports `analyze` from here; it lives in testtime.analysis (delete this file)."""
from testtime.analysis import analyze  # noqa: F401
