"""The commands: the CLI (`cli`), `hacheck fix`, `hacheck serve`. `hacheck deploy` has its own
folder, `hacheck/deploy/`.
"""
