"""The command line. Exit codes are the contract: 0 pass, 1 findings at or above the
threshold (an unreadable flow counts), 2 usage, configuration or internal error."""

from __future__ import annotations

import os
import sys

import click

from hacheck import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class HacheckError(click.ClickException):
    """A clear one-line error; exit 2."""

    exit_code = EXIT_ERROR

    def show(self, file=None) -> None:
        click.echo(f"hacheck: error: {self.message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="hacheck", message="%(prog)s %(version)s")
def cli() -> None:
    """Lint Node-RED flows for High-Availability readiness (several copies behind a load balancer)."""


def _use_color(no_color: bool, stream) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _load_rules(config):
    from hacheck.catalog import CatalogError, load_catalog

    try:
        return load_catalog(config.rule_packs)
    except CatalogError as e:
        raise HacheckError(str(e)) from None


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-f", "--format", "formats", multiple=True, help="text, json, or auto (repeatable, pairs with --output)")
@click.option("-o", "--output", "outputs", multiple=True, type=click.Path(dir_okay=False), help="Write the matching --format here instead of stdout.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info", "never"]), default=None, help="Lowest severity that fails the run [default: warning].")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False), help="Extra folder of YAML rules (repeatable).")
@click.option("--select", multiple=True, help="Only these rules: ids, id prefixes (HA2) or names (repeatable, comma lists allowed).")
@click.option("--ignore", multiple=True, help="Skip these rules: ids, prefixes or names.")
@click.option("--preview", is_flag=True, help="Also run rules whose status is preview.")
@click.option("-q", "--quiet", is_flag=True, help="Text output: print findings only, no summary; nothing when clean.")
@click.option("--no-color", is_flag=True, help="Never colour the text output.")
def check(paths, formats, outputs, fail_on, rule_dirs, select, ignore, preview, quiet, no_color) -> None:
    """Check flow files or directories (default: the current directory)."""
    from hacheck.config import Config
    from hacheck.loader import UsageError, discover
    from hacheck.runner import check_sources

    config = Config()
    if fail_on:
        config.fail_on = fail_on
    config.rule_packs = tuple(config.rule_packs) + tuple(rule_dirs)
    config.select = tuple(config.select) + _split(select)
    config.ignore = tuple(config.ignore) + _split(ignore)
    config.preview = config.preview or preview
    rules = _load_rules(config)
    try:
        sources = discover(list(paths) or ["."])
    except UsageError as e:
        raise HacheckError(str(e)) from None
    result = check_sources(sources, config, rules)
    _emit(result, formats, outputs, quiet, no_color)
    sys.exit(EXIT_FINDINGS if result.failed() else EXIT_OK)


def _split(values) -> tuple[str, ...]:
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip())


def _emit(result, formats, outputs, quiet, no_color) -> None:
    from hacheck import reporters

    formats = list(formats) or ["auto"]
    if len(outputs) > len(formats):
        raise HacheckError("more --output than --format options: pair each --output with a --format")
    for i, fmt in enumerate(formats):
        if fmt == "auto":
            fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" and "github" in reporters.REPORTERS else "text"
        if fmt not in reporters.REPORTERS:
            raise HacheckError(f"unknown format '{fmt}'; choose from {', '.join(sorted(reporters.REPORTERS))}, auto")
        mod = reporters.get(fmt)
        if i < len(outputs):
            _write_atomic(outputs[i], lambda s, m=mod: m.render(result, s, color=False))
        elif fmt == "text" and quiet:
            if result.findings:
                _quiet_text(result)
        else:
            mod.render(result, sys.stdout, color=_use_color(no_color, sys.stdout))


def _quiet_text(result) -> None:
    from hacheck.reporters import text

    class _NoSummary:
        def __init__(self, stream):
            self.stream, self.lines = stream, []

        def write(self, s):
            self.lines.append(s)

    buf = _NoSummary(sys.stdout)
    text.render(result, buf, color=False)
    body = "".join(buf.lines).rstrip("\n").rsplit("\n", 1)[0] if buf.lines else ""
    if body.strip():
        sys.stdout.write(body + "\n")


def _write_atomic(path: str, write) -> None:
    import tempfile

    target = os.path.abspath(path)
    d = os.path.dirname(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".hacheck-", dir=d)
    except OSError as e:
        raise HacheckError(f"{path}: cannot write: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            write(fh)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@cli.command("rules")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False), help="Also list a rule pack.")
def rules_cmd(fmt, rule_dirs) -> None:
    """List the rule catalogue."""
    import json

    from hacheck.config import Config

    rules = _load_rules(Config(rule_packs=tuple(rule_dirs)))
    if fmt == "json":
        click.echo(json.dumps([_rule_summary(r) for r in rules], indent=2))
        return
    for r in rules:
        fix = "fix" if r.fixable else ""
        click.echo(f"{r.id:<7} {r.name:<38} {str(r.severity):<8} {r.category:<10} {r.status:<8} {fix}".rstrip())


def _rule_summary(r) -> dict:
    return {
        "id": r.id,
        "name": r.name,
        "severity": str(r.severity),
        "category": r.category,
        "status": r.status,
        "fixable": r.fixable,
        "fix_safety": r.fix.get("safety"),
        "source": os.path.basename(r.source),
    }


@cli.command()
@click.argument("rule")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False))
def explain(rule, rule_dirs) -> None:
    """Show a rule's documentation, with its examples (by id or name)."""
    from hacheck.config import Config
    from hacheck.docs import rule_markdown

    rules = _load_rules(Config(rule_packs=tuple(rule_dirs)))
    found = [r for r in rules if r.id == rule.upper() or r.name == rule]
    if not found:
        raise HacheckError(f"no rule '{rule}'; `hacheck rules` lists them")
    click.echo(rule_markdown(found[0]))


def main(argv=None) -> None:
    try:
        cli.main(args=argv, prog_name="hacheck", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("hacheck: interrupted", err=True)
        sys.exit(EXIT_ERROR)
    except SystemExit:
        raise
    except Exception as exc:  # a crash is exit 2 with one line, never a traceback
        click.echo(f"hacheck: internal error: {type(exc).__name__}: {_safe(exc)} (set HACHECK_DEBUG=1 for details)", err=True)
        if os.environ.get("HACHECK_DEBUG"):
            import traceback

            traceback.print_exc()
        sys.exit(EXIT_ERROR)


def _safe(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200]
