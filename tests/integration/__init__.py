"""Integration tests against real components (Mosquitto, Node-RED, nginx)."""
