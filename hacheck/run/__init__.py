"""Checking a set of files: in this process (`check_file`), on a process pool (`parallel`), and
the library API (`runner`).
"""
