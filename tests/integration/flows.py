"""Flows the integration tests deploy, shared by the Node-RED and FlowFuse deploy tests."""

from __future__ import annotations


def web_flows(uid: str, reply: str) -> list:
    """GET /hc-<uid> answers `reply`: shows through the load balancer which flows run."""
    tab = f"tab-{uid}"
    return [
        {"id": tab, "type": "tab", "label": f"web {uid}"},
        {"id": f"in-{uid}", "type": "http in", "z": tab, "url": f"/hc-{uid}", "method": "get", "wires": [[f"set-{uid}"]]},
        {"id": f"set-{uid}", "type": "change", "z": tab,
         "rules": [{"t": "set", "p": "payload", "pt": "msg", "to": reply, "tot": "str"}], "wires": [[f"out-{uid}"]]},
        {"id": f"out-{uid}", "type": "http response", "z": tab, "statusCode": "", "wires": []},
    ]
