"""What a flow means: the message graph (`graph`), which inputs are load-balanced (`ingress`),
the paths from them (`paths`), function-node code (`js`) and the declarative matcher (`match`).
"""
