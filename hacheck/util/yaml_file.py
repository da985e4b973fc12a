"""Reading one of our YAML files (a rule, an effect catalogue file): every problem becomes one
error of the caller's kind, naming the file and, when ruamel knows it, the line."""

from __future__ import annotations

from pathlib import Path


def safe_yaml():
    from ruamel.yaml import YAML

    return YAML(typ="safe")  # the C loader where ruamel.yaml.clib is installed: 6x faster


def read_yaml(path: Path, error: type[Exception], yaml=None) -> object:
    """The parsed YAML of `path`; `error(message)` raised when it cannot be read or parsed."""
    try:
        return (yaml or safe_yaml()).load(path.read_text("utf-8"))
    except OSError as e:
        raise error(f"{path}: cannot be read: {e.strerror or e}") from None
    except Exception as e:  # noqa: BLE001 - ruamel raises many types; all mean "not valid YAML"
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{path}: not valid YAML{where}: {getattr(e, 'problem', None) or e}") from None
