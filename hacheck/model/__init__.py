"""The values every layer passes around: a flow (`flow.FlowFile`, `Node`), what a check finds
(`findings.Hit`, `Finding`, `Severity`) and the effective configuration (`config.Config`).
"""
