"""Find, read and validate the configuration, and layer it: preset < file < command line.

`.hacheck.yaml` (or `.hacheck.yml`, or `[tool.hacheck]` in pyproject.toml) is looked for from
each checked path upward, stopping at the repository root (a folder with `.git`), as yamllint
and black do. ruamel.yaml and jsonschema are imported only when there is a file to read, so a
run without configuration starts as fast as before.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hacheck.model.config import Config

YAML_NAMES = (".hacheck.yaml", ".hacheck.yml")
PYPROJECT = "pyproject.toml"
PRESETS = ("default", "strict")
SCHEMA_FILE = "config.schema.json"
KEYS = (
    "extends", "select", "ignore", "severity", "options", "fail_on", "exclude", "rule_packs",
    "shared_context_stores", "persistent_context_stores", "share_group", "preview", "ignore_findings",
    "effects", "localhost_services", "instance",
)  # fmt: skip
DICT_KEYS = ("severity", "options", "effects")  # merged entry by entry across layers; the rest replace
CLI = "command line"

ID_RE = re.compile(r"[A-Z]{2,6}[0-9]{3}")
PREFIX_RE = re.compile(r"[A-Z]{1,6}[0-9]{0,2}")


class ConfigError(Exception):
    """A configuration problem: exit 2; the message names the file, the key and what is allowed."""


@dataclass(frozen=True)
class ConfigSource:
    path: Path
    kind: str  # "yaml" | "pyproject"

    @property
    def label(self) -> str:
        shown = display(self.path)
        return f"{shown} [tool.hacheck]" if self.kind == "pyproject" else shown


# --- finding the file -------------------------------------------------------------------------


def find_config(paths: list[str] | tuple[str, ...] = ()) -> ConfigSource | None:
    """The configuration for the checked paths. Two paths that lead to two different files
    are an error: one run has one configuration, and picking one silently would be a guess."""
    found: dict[Path, list[str]] = {}
    memo: dict[Path, ConfigSource | None] = {}
    sources: dict[Path, ConfigSource] = {}
    for p in list(paths) or ["."]:
        start = Path.cwd() if p == "-" else Path(os.path.abspath(p))
        if not start.is_dir():
            start = start.parent
        src = _search_up(start, memo)
        if src is not None:
            found.setdefault(src.path, []).append(p)
            sources[src.path] = src
    if len(found) > 1:
        which = "; ".join(f"{display(c)} (for {', '.join(ps[:2])}{', ...' if len(ps) > 2 else ''})" for c, ps in found.items())
        raise ConfigError(f"the checked paths have different configuration files: {which}; check them in separate runs or choose one with --config")
    return next(iter(sources.values()), None)


def _search_up(start: Path, memo: dict) -> ConfigSource | None:
    trail = []
    d: Path | None = start
    result = None
    while d is not None:
        if d in memo:
            result = memo[d]
            break
        trail.append(d)
        result = _config_in(d)
        if result is not None or (d / ".git").exists():
            break
        d = d.parent if d.parent != d else None
    for t in trail:
        memo[t] = result
    return result


def _config_in(d: Path) -> ConfigSource | None:
    for name in YAML_NAMES:
        if (d / name).is_file():
            return ConfigSource(d / name, "yaml")
    py = d / PYPROJECT
    if py.is_file() and _has_tool_table(py):
        return ConfigSource(py, "pyproject")
    return None


def _has_tool_table(py: Path) -> bool:
    try:
        raw = py.read_bytes()
    except OSError:
        return False
    # a cheap look first: most pyproject files never mention us and need no TOML parse
    return re.search(rb"^\s*\[\s*tool\s*\.\s*hacheck(?![\w-])", raw, re.MULTILINE) is not None


def explicit_source(path: str) -> ConfigSource:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{path}: configuration file not found")
    if not p.is_file():
        raise ConfigError(f"{path}: not a file (--config names a .hacheck.yaml or a pyproject.toml)")
    kind = "pyproject" if p.suffix == ".toml" else "yaml"
    return ConfigSource(p.resolve(), kind)


def display(path: Path | str) -> str:
    """A path as the user would type it: relative to the cwd when under it."""
    p = os.path.abspath(path)
    try:
        rel = os.path.relpath(p)
    except ValueError:
        return Path(p).as_posix()
    return Path(p if rel.startswith("..") else rel).as_posix()


# --- reading and validating -------------------------------------------------------------------


def read_source(src: ConfigSource) -> dict:
    """The file's configuration mapping, schema-checked. Raises ConfigError."""
    try:
        raw = src.path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{display(src.path)}: cannot be read: {e.strerror or e}") from None
    if src.kind == "pyproject":
        return _validated(raw, src.path, lambda: _check_pyproject(raw, src))
    return _validated(raw, src.path, lambda: _check_yaml(raw, display(src.path)))


def _check_yaml(raw: bytes, shown: str) -> dict:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{shown}: is not UTF-8 text") from None
    data = _load_yaml(text, shown)
    validate(data, shown, text)
    return data


def _check_pyproject(raw: bytes, src: ConfigSource) -> dict:
    data = _read_pyproject(raw, src)
    validate(data, src.label)
    return data


def _read_pyproject(raw: bytes, src: ConfigSource) -> dict:
    import tomllib

    try:
        doc = tomllib.loads(raw.decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{display(src.path)}: not valid TOML: {e}") from None
    tool = doc.get("tool")
    data = tool.get("hacheck") if isinstance(tool, dict) else None
    if data is None:
        raise ConfigError(f"{display(src.path)}: has no [tool.hacheck] table")
    if not isinstance(data, dict):
        raise ConfigError(f"{src.label}: must be a table of settings")
    return data


def _yaml(typ: str = "safe"):
    from ruamel.yaml import YAML

    return YAML(typ=typ, pure=True)


def _load_yaml(text: str, shown: str) -> dict:
    try:
        data = _yaml().load(text)
    except Exception as e:  # noqa: BLE001 - ruamel raises many types; all mean "not valid YAML"
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if type(e).__name__ == "DuplicateKeyError":
            problem = problem.split(" with value")[0]
        raise ConfigError(f"{shown}{where}: not valid YAML: {problem}") from None
    if data is None:
        return {}  # an empty file is an empty configuration
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}: must be a mapping of settings (key: value), not {_json_type(data)}")
    return data


def _schema() -> dict:
    return _schema_named(SCHEMA_FILE)


def _schema_named(name: str) -> dict:
    return json.loads(resources.files("hacheck.schemas").joinpath(name).read_text("utf-8"))


def validate(data: dict, shown: str, text: str | None = None) -> None:
    """Raise ConfigError for the most relevant schema error: file, line, key path, what is allowed."""
    import jsonschema
    from referencing import Registry, Resource

    schema = _schema()
    # `effects:` entries are checked against the effect catalogue's own schema
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in (_schema_named("effects.schema.json"), _schema_named("rule.schema.json"))
    )
    errors = list(jsonschema.Draft202012Validator(schema, registry=registry).iter_errors(data))
    if not errors:
        return
    err = jsonschema.exceptions.best_match(errors)
    path = list(err.absolute_path)
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed), key=str)
        hint = difflib.get_close_matches(str(extra[0]), allowed, n=1)
        problem = f"unknown key '{extra[0]}'" + (f" (did you mean '{hint[0]}'?)" if hint else "") + f"; allowed keys: {', '.join(allowed)}"
        shown_path = path + [str(extra[0])]
        path.append(extra[0])  # the real key (it may be a number), for the line lookup
    else:
        problem = _explain(err)
        shown_path = path
    line = _line_of(text, path) if text is not None else None
    where = f"{shown}:{line}" if line else shown
    raise ConfigError(f"{where}: {key_path(shown_path) or '(top level)'}: {problem}")


def _explain(err) -> str:
    v, inst, sch = err.validator, err.instance, err.schema
    allowed = sch.get("description")
    if v == "enum":
        return f"{_short(inst)} is not allowed; allowed: {', '.join(str(x) for x in sch['enum'])}"
    if v == "type":
        return f"expected {allowed or err.validator_value}, got {_json_type(inst)}" + ("" if inst is None else f" {_short(inst)}")
    if v == "required":
        missing = [k for k in sch["required"] if k not in inst]
        return f"'{missing[0]}' is missing; expected {allowed}"
    if v == "anyOf":
        return f"expected {allowed}"
    if v in ("minLength", "pattern"):
        return f"{_short(inst)} is not allowed; expected {allowed}"
    return err.message


def _short(value) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def key_path(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _line_of(text: str, path: list) -> int | None:
    """The 1-based line of a key path; the round-trip loader keeps positions, and it only runs
    when there is an error to point at."""
    try:
        node = _yaml("rt").load(text)
    except Exception:  # noqa: BLE001 - it parsed a moment ago; without a position the message still stands
        return None
    line = None
    for p in path:
        try:
            if isinstance(p, int):
                line = node.lc.item(p)[0] + 1
            else:
                line = node.lc.key(p)[0] + 1
            node = node[p]
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    return line


# --- a cache of validated files ----------------------------------------------------------------
# ruamel.yaml and jsonschema take ~0.2 s to import, more than checking a small flow, and a
# pre-commit hook pays it on every commit. A file whose bytes were validated before (by this
# hacheck, against this schema) is taken from the cache; any change means a full check again.

CACHE_FORMAT = 1


def _validated(raw: bytes, where: Path, check) -> dict:
    """`check()` parses and validates `raw` (raising ConfigError); its result is cached."""
    target, key = _cache_slot(raw, where)
    if target is not None:
        try:
            doc = json.loads(target.read_bytes())
            if isinstance(doc, dict) and doc.get("key") == key and isinstance(doc.get("data"), dict):
                return doc["data"]
        except (OSError, ValueError):
            pass
    data = check()
    if target is not None:
        _cache_write(target, key, data)
    return data


def _cache_slot(raw: bytes, where: Path):
    from hacheck import __version__
    from hacheck.util.cache import cache_dir

    d = cache_dir()
    if d is None:
        return None, None
    try:
        schema = Path(str(resources.files("hacheck.schemas").joinpath(SCHEMA_FILE)))
        code = [[p.stat().st_size, p.stat().st_mtime_ns] for p in (Path(__file__), schema)]
    except OSError:
        return None, None
    key = {"format": CACHE_FORMAT, "version": __version__, "sha256": hashlib.sha256(raw).hexdigest(), "code": code}
    # one slot per config file, overwritten when it changes: the cache never grows
    name = hashlib.sha256(str(where.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return d / f"config-{name}.json", key


def _cache_write(target: Path, key: dict, data: dict) -> None:
    try:
        text = json.dumps({"key": key, "data": data}, ensure_ascii=False)
    except (TypeError, ValueError):
        return  # YAML-only values (a date in an option): not cached, checked every time
    if json.loads(text)["data"] != data:
        return
    from hacheck.util.cache import write_file

    write_file(target, text, ".config-")


# --- presets and layering ---------------------------------------------------------------------


def preset(name: str) -> dict:
    res = resources.files("hacheck.config").joinpath(f"presets/{name}.yaml")
    raw = res.read_bytes()
    return _validated(raw, Path(str(res)), lambda: _check_yaml(raw, f"preset {name}"))


def load_config(paths=(), config_file: str | None = None, cli: dict | None = None) -> Config:
    """The effective configuration for a run. `cli` holds only options given on the command
    line: fail_on, preview (replace), select (replaces the file's), ignore and rule_packs (add)."""
    src = explicit_source(config_file) if config_file else find_config(paths)
    data = read_source(src) if src else {}
    cfg = Config()  # equal to the default preset (a test keeps them equal): no YAML to read
    cfg.origin = {k: "preset default" for k in KEYS}
    extends = data.get("extends", "default")
    if extends != "default":
        _apply(cfg, preset(extends), f"preset {extends}", None)
    if src is not None:
        cfg.path = display(src.path)
        _apply(cfg, data, src.label, src.path.parent)
    if cli:
        _apply_cli(cfg, cli)
    return cfg


def _apply(cfg: Config, data: dict, origin: str, base: Path | None) -> None:
    for key, value in data.items():
        if key == "extends":
            cfg.extends = value
        elif key in DICT_KEYS:
            merged = dict(getattr(cfg, key))
            for k, v in value.items():
                merged[k] = {**merged.get(k, {}), **v} if key == "options" else v
                cfg.origin[f"{key}.{k}"] = origin
            setattr(cfg, key, merged)
        elif key == "rule_packs":
            packs = []
            for i, d in enumerate(value):
                full = (base / d) if base is not None else Path(d)
                if not full.is_dir():
                    raise ConfigError(f"{origin}: rule_packs[{i}]: folder '{d}' not found (looked for {display(full)})")
                packs.append(display(full))
            cfg.rule_packs = tuple(packs)
        elif key == "ignore_findings":
            cfg.ignore_findings = tuple(dict(e) for e in value)
        elif key == "localhost_is_shared":  # the old name of localhost_services (a bool)
            cfg.localhost_services = "shared" if value else "per-copy"
            cfg.origin["localhost_services"] = f"{origin} (as localhost_is_shared: {str(bool(value)).lower()})"
            continue
        elif isinstance(value, list):
            setattr(cfg, key, tuple(value))
        else:
            setattr(cfg, key, value)
        cfg.origin[key] = origin


def _apply_cli(cfg: Config, cli: dict) -> None:
    def add(key: str, values) -> None:
        setattr(cfg, key, tuple(getattr(cfg, key)) + tuple(values))
        before = cfg.origin.get(key)
        cfg.origin[key] = CLI if not before or before.startswith("preset") else f"{before} + {CLI}"

    if cli.get("fail_on"):
        cfg.fail_on = cli["fail_on"]
        cfg.origin["fail_on"] = CLI
    if cli.get("preview"):
        cfg.preview = True
        cfg.origin["preview"] = CLI
    if cli.get("select"):
        cfg.select = tuple(cli["select"])
        cfg.origin["select"] = CLI
    if cli.get("ignore"):
        add("ignore", cli["ignore"])
    if cli.get("rule_packs"):
        add("rule_packs", cli["rule_packs"])


# --- rule references, once the catalogue is known ---------------------------------------------


def check_rule_refs(cfg: Config, rules) -> None:
    """A misspelt rule id must not silently switch a gate off: every id or name the
    configuration names must exist (id prefixes such as HA2 excepted)."""
    by_ref = {r.id: r for r in rules} | {r.name: r for r in rules}

    def fail(path: list, ref: str, allowed: str) -> None:
        hint = difflib.get_close_matches(ref, list(by_ref), n=1)
        at = f"--{path[0]}" if cfg.origin.get(path[0]) == CLI else f"{_locate(cfg, path)}{key_path(path)}"
        raise ConfigError(f"{at}: unknown rule '{ref}'" + (f" (did you mean '{hint[0]}'?)" if hint else "") + f"; allowed: {allowed} (`hacheck rules` lists them)")

    for key in ("select", "ignore"):
        for i, s in enumerate(getattr(cfg, key)):
            if s == "ALL" or s in by_ref or (PREFIX_RE.fullmatch(s) and not ID_RE.fullmatch(s)):
                continue
            fail([key, i], s, "a rule id, an id prefix such as HA2, a rule name, or ALL")
    for key in ("severity", "options"):  # keyed by rule (effects: by node type)
        for ref in getattr(cfg, key):
            if ref not in by_ref:
                fail([key, ref], ref, "a rule id or name")
    for ref, opts in cfg.options.items():
        _check_options(cfg, by_ref[ref], ref, opts)
    from hacheck.config.suppress import META, NEVER_SUPPRESSED

    for i, e in enumerate(cfg.ignore_findings):
        if e.get("rule") not in by_ref:
            fail(["ignore_findings", i, "rule"], str(e.get("rule")), "a rule id or name")
        rule = by_ref[e["rule"]]
        if rule.id in NEVER_SUPPRESSED:
            path = ["ignore_findings", i, "rule"]
            raise ConfigError(f"{_locate(cfg, path)}{key_path(path)}: {rule.id} cannot be suppressed: a file hacheck could not read was not checked at all; fix the file, or leave it out with `exclude`")
        if rule.id in META:
            path = ["ignore_findings", i, "rule"]
            raise ConfigError(f"{_locate(cfg, path)}{key_path(path)}: {rule.id} is about suppressions themselves and cannot be suppressed by one; turn it off with `ignore: [{rule.id}]`")


def _check_options(cfg: Config, rule, ref: str, opts: dict) -> None:
    known = rule.options
    for name, value in opts.items():
        path = ["options", ref, name]
        if name not in known:
            allowed = ", ".join(sorted(known)) if known else "none (this rule takes no options)"
            raise ConfigError(f"{_locate(cfg, path)}{key_path(path)}: rule {rule.id} has no option '{name}'; its options: {allowed}")
        default = known[name]
        if default is not None and _json_type(default) != _json_type(value):
            raise ConfigError(f"{_locate(cfg, path)}{key_path(path)}: expected {_json_type(default)} (the default is {_short(default)}), got {_json_type(value)} {_short(value)}")


def _locate(cfg: Config, path: list) -> str:
    """'file:line: ' for a key path that came from the config file; nothing for a preset."""
    place = cfg.origin.get(f"{path[0]}.{path[1]}") if path[0] in DICT_KEYS else None
    place = place or cfg.origin.get(path[0], "")
    if not place or place.startswith("preset"):
        return ""
    line = None
    if cfg.path and place == cfg.path and not cfg.path.endswith(".toml"):
        try:
            line = _line_of(Path(cfg.path).read_text("utf-8"), path)
        except (OSError, UnicodeDecodeError):
            pass
    return f"{place}:{line}: " if line else f"{place}: "


# --- `hacheck config show` --------------------------------------------------------------------


def effective(cfg: Config) -> dict:
    """Each key's value and origin, in the order of KEYS; dict keys per entry."""
    out: dict = {}
    for key in KEYS:
        value = getattr(cfg, key)
        if key in DICT_KEYS:
            out[key] = {
                "value": {k: v for k, v in value.items()},
                "origin": cfg.origin.get(key, "preset default"),
                "entries": {k: cfg.origin.get(f"{key}.{k}", cfg.origin.get(key, "preset default")) for k in value},
            }
        else:
            out[key] = {"value": list(value) if isinstance(value, tuple) else value, "origin": cfg.origin.get(key, "preset default")}
    return out


def render_show(cfg: Config, fmt: str = "text") -> str:
    eff = effective(cfg)
    if fmt == "json":
        doc = {"file": cfg.path, "values": {k: {"value": v["value"], "origin": v["origin"]} for k, v in eff.items()}}
        for k in DICT_KEYS:
            doc["values"][k]["entries"] = eff[k]["entries"]
        return json.dumps(doc, indent=2, ensure_ascii=False)
    # valid YAML: values in flow style, origins as comments, so it can seed a .hacheck.yaml
    lines = [f"# configuration file: {cfg.path or '(none found; built-in defaults)'}"]
    for key, v in eff.items():
        if key in DICT_KEYS and v["value"]:
            lines.append(_row(f"{key}:", v["origin"]))
            for k, val in v["value"].items():
                lines.append(_row(f"  {json.dumps(k)}: {json.dumps(val, ensure_ascii=False)}", v["entries"][k]))
        elif key == "ignore_findings" and v["value"]:
            lines.append(_row(f"{key}:", v["origin"]))
            for e in v["value"]:
                lines.append(f"  - {json.dumps(e, ensure_ascii=False)}")
        else:
            lines.append(_row(f"{key}: {json.dumps(v['value'], ensure_ascii=False)}", v["origin"]))
    return "\n".join(lines)


def _row(text: str, origin: str) -> str:
    return f"{text:<44} # {origin}"

