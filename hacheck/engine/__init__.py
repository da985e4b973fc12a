"""The rule engine: rule files and the catalogue, what a check may ask (`context.RuleContext`),
the Python checks (`checks/`, one module per family), directives, turning a Hit into a Finding
(`render`) and running the rules over one flow (`check.check_flow`).
"""
