"""hacheck: a static linter and High-Availability readiness checker for Node-RED flows."""

__version__ = "0.1.0"

# The package's own folder: its data (schemas/, _rules/ in a wheel) and, in a checkout, the
# repository above it. One place, so moving a module between subpackages moves no path.
from pathlib import Path as _Path

PACKAGE_DIR = _Path(__file__).resolve().parent
