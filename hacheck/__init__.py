"""hacheck: a static linter and High-Availability readiness checker for Node-RED flows."""

__version__ = "0.1.0"
