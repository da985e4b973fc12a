"""Small helpers that import nothing else of hacheck: the project's URLs, atomic file writes,
fast JSON encoding, cache files, masking secrets in URLs, reading our YAML files.
"""
