"""Reading flows: finding flow files, decoding them with each node's position, turning any
shape a flow comes in into a `FlowFile` (or a `LoadProblem`), the files changed since a revision.
"""
