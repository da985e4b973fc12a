"""After the rules: the configuration files and presets (`files`), suppressions (`suppress`) and
the baseline (`baseline`).
"""
