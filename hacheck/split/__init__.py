"""`hacheck split`'s engine: cut a flow into an HA part and a singleton part (docs/split.md).

parts.py holds what a split is made of, partition.py decides what moves, bridges.py joins the
parts where a path crosses, context.py finds the context both parts use, report.py says what
was done; hacheck/commands/split.py is the command that writes it all."""
