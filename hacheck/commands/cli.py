"""The command line. Exit codes are the contract: 0 pass, 1 findings at or above the
threshold (an unreadable flow counts), 2 usage, configuration or internal error."""

from __future__ import annotations

import os
import sys

import click

from hacheck import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

# True when `main` runs the command and the process ends with it (the console script), not
# when a test or a library calls `cli` in-process: only then may we skip freeing memory
_PROCESS_ENDS_WITH_COMMAND = False


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
    from hacheck.engine.catalog import CatalogError, load_catalog

    try:
        return load_catalog(config.rule_packs)
    except CatalogError as e:
        raise HacheckError(str(e)) from None


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-f", "--format", "formats", multiple=True, help="text, json, sarif, junit, gitlab, github, markdown, html, or auto (repeatable, pairs with --output)")
@click.option("-o", "--output", "outputs", multiple=True, type=click.Path(dir_okay=False), help="Write the matching --format here instead of stdout.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info", "never"]), default=None, help="Lowest severity that fails the run [default: warning].")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False), help="Extra folder of YAML rules (repeatable).")
@click.option("--select", multiple=True, help="Only these rules: ids, id prefixes (HA2) or names (repeatable, comma lists allowed).")
@click.option("--ignore", multiple=True, help="Skip these rules: ids, prefixes or names.")
@click.option("--preview", is_flag=True, help="Also run rules whose status is preview.")
@click.option("-q", "--quiet", is_flag=True, help="Text output: print findings only, no summary; nothing when clean.")
@click.option("--no-color", is_flag=True, help="Never colour the text output.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Use this .hacheck.yaml or pyproject.toml instead of searching upward from the paths.")
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False), help="Fail only on findings not in this baseline (written by `hacheck baseline`).")
@click.option("--changed-since", "changed_since", metavar="REF", help="Only flow files changed since this git revision (git diff REF, plus untracked files).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Check files on this many processes [default: the number of CPUs].")
@click.option("--skip-non-flows", is_flag=True, help="Skip JSON files that are not flows without reporting them (for pre-commit).")
def check(paths, formats, outputs, fail_on, rule_dirs, select, ignore, preview, quiet, no_color, config_file, baseline_file, changed_since, jobs, skip_non_flows) -> None:
    """Check flow files or directories (default: the current directory)."""
    import gc

    from hacheck.run.parallel import default_jobs
    from hacheck.run.runner import check_sources

    # flows, findings and reports are large acyclic trees: the cyclic collector would only
    # rescan them (~30% of a big run); paused for this command, as the runner does per file
    if _PROCESS_ENDS_WITH_COMMAND:
        from hacheck.run.check_file import keep_last_flow_until_exit

        keep_last_flow_until_exit()
    if gc.isenabled():
        gc.disable()
        if not _PROCESS_ENDS_WITH_COMMAND:
            # turned back on for an in-process caller; re-enabling starts a collection over
            # every object made meanwhile (~1 s after a 100k-node flow): `main` skips it
            click.get_current_context().call_on_close(gc.enable)
    config, rules = _configure(paths, config_file, fail_on=fail_on, rule_packs=rule_dirs, select=_split(select), ignore=_split(ignore), preview=preview)
    base = _read_baseline(baseline_file) if baseline_file else None
    sources = _discover(paths, config)
    if changed_since is not None:
        sources = _changed(sources, changed_since)
    from hacheck.reporters import needs_flows

    keep = needs_flows(formats)  # the HTML drawings and SARIF input paths need the parsed flows
    result = check_sources(sources, config, rules, keep_flows=keep, jobs=jobs or default_jobs(), skip_non_flows=skip_non_flows)
    if base is not None:
        from hacheck.config.baseline import apply

        apply(result, base)
    _emit(result, formats, outputs, quiet, no_color)
    sys.exit(EXIT_FINDINGS if result.failed() else EXIT_OK)


def _changed(sources, ref):
    from hacheck.load.changed import filter_changed
    from hacheck.load.loader import UsageError

    try:
        kept, notes = filter_changed(sources, ref)
    except UsageError as e:
        raise HacheckError(str(e)) from None
    for note in notes:
        click.echo(f"hacheck: note: {note}", err=True)
    return kept


def _configure(paths, config_file, **cli_opts):
    """The configuration (preset < file < command line) and the rule catalogue it names."""
    from hacheck.config.files import ConfigError, check_rule_refs, load_config

    try:
        config = load_config(list(paths), config_file, cli_opts)
        rules = _load_rules(config)
        check_rule_refs(config, rules)
    except ConfigError as e:
        raise HacheckError(str(e)) from None
    return config, rules


def _discover(paths, config):
    from hacheck.load.loader import UsageError, discover

    try:
        return discover(list(paths) or ["."], exclude=config.exclude_matcher())
    except UsageError as e:
        raise HacheckError(str(e)) from None


def _read_baseline(path):
    from hacheck.config.baseline import BaselineError, load

    try:
        return load(path)
    except BaselineError as e:
        raise HacheckError(str(e)) from None


@cli.command("baseline")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-o", "--output", default=".hacheck-baseline.json", show_default=True, type=click.Path(dir_okay=False), help="Where to write the baseline.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Use this .hacheck.yaml or pyproject.toml instead of searching upward from the paths.")
def baseline_cmd(paths, output, config_file) -> None:
    """Accept the current findings: write them to a baseline so `check --baseline` fails only on new ones."""
    from hacheck.config import baseline
    from hacheck.run.runner import check_sources

    config, rules = _configure(paths, config_file)
    result = check_sources(_discover(paths, config), config, rules)
    text = baseline.dumps(result, output)
    _write_atomic(output, lambda s: s.write(text))
    n = text.count('"fingerprint": ')
    click.echo(f"hacheck: wrote {n} finding{'s' if n != 1 else ''} to {output}")
    left = baseline.unbaselined(result)
    if left:
        files = sorted({f.file for f in left})
        click.echo(f"hacheck: warning: {len(left)} finding(s) cannot be baselined and will still fail `check` (unreadable or non-flow files, internal errors): {', '.join(files[:5])}", err=True)


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Use this .hacheck.yaml or pyproject.toml instead of searching upward from the paths.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info", "never"]), default=None)
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False))
@click.option("--select", multiple=True)
@click.option("--ignore", multiple=True)
@click.option("--preview", is_flag=True)
def config_show(paths, config_file, fmt, fail_on, rule_dirs, select, ignore, preview) -> None:
    """Print the effective configuration for PATHS and where each value came from (the
    check options given here are layered on top, as `check` would)."""
    from hacheck.config.files import render_show

    config, _ = _configure(paths, config_file, fail_on=fail_on, rule_packs=rule_dirs, select=_split(select), ignore=_split(ignore), preview=preview)
    click.echo(render_show(config, fmt))


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
    """`write(stream)` into `path`, replaced whole or not at all. Streamed: a 100k-node flow's
    JSON report is 30 MB, and holding it (and its encoded copy) at once raised the peak."""
    import io

    from hacheck.util.atomic import replacing

    try:
        with replacing(path) as fh:
            stream = io.TextIOWrapper(fh, encoding="utf-8", errors="backslashreplace", newline="\n")
            write(stream)
            stream.flush()
            stream.detach()  # the file is closed by `replacing`, not by the wrapper
    except OSError as e:
        raise HacheckError(f"{path}: cannot write: {e.strerror or e}") from None


@cli.command("rules")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False), help="Also list a rule pack.")
def rules_cmd(fmt, rule_dirs) -> None:
    """List the rule catalogue."""
    import json

    from hacheck.model.config import Config

    rules = _load_rules(Config(rule_packs=tuple(rule_dirs)))
    if fmt == "json":
        from hacheck.reporters.docs import rule_summary

        click.echo(json.dumps([rule_summary(r) for r in rules], indent=2))
        return
    for r in rules:
        fix = "fix" if r.fixable else ""
        click.echo(f"{r.id:<7} {r.name:<38} {str(r.severity):<8} {r.category:<10} {r.status:<8} {fix}".rstrip())


@cli.command()
@click.argument("rule")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False))
def explain(rule, rule_dirs) -> None:
    """Show a rule's documentation, with its examples and the sources and effects it follows
    (by id or name); or what a node type does under HA, from the effect catalogue."""
    from hacheck.model.config import Config
    from hacheck.reporters.docs import find_rule, rule_markdown, type_markdown

    found = find_rule(_load_rules(Config(rule_packs=tuple(rule_dirs))), rule)
    if found is not None:
        click.echo(rule_markdown(found))
        return
    from hacheck.effects.catalogue import bundled

    entry = bundled().get(rule)
    if entry is None:
        raise HacheckError(
            f"no rule or node type '{rule}'; `hacheck rules` lists the rules, docs/effects.md the node types"
            " (a node type the catalogue does not know is judged by its shape: `hacheck explain HA109`)"
        )
    click.echo(type_markdown(rule, entry))


@cli.group("catalogue")
def catalogue_group() -> None:
    """Work on the effect catalogue (what each node type does under HA; docs/effects.md)."""


@catalogue_group.command("draft")
@click.argument("package_dir", metavar="PACKAGE-DIR", type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write the draft here instead of standard output.")
def catalogue_draft(package_dir, output) -> None:
    """Draft catalogue entries for an installed Node-RED module's node types, from its code.

    PACKAGE-DIR is the module's folder (node_modules/node-red-contrib-x). Each claim carries its
    evidence (file:line) as a comment: a person reviews the draft, then puts its `types:` under
    `effects:` in .hacheck.yaml, or the file in rules/effects/."""
    from pathlib import Path

    from hacheck.analysis.node_module import ModuleError, read_module
    from hacheck.effects.catalogue import EffectsError
    from hacheck.effects.draft import check_draft, draft

    try:
        module = read_module(Path(package_dir))
    except ModuleError as e:
        raise HacheckError(str(e)) from None
    text = draft(module)
    # the draft must load as a catalogue file: a failure here is our bug, not the module's
    try:
        check_draft(text)
    except EffectsError as e:
        raise HacheckError(f"internal error: {e}") from None
    for warning in module.warnings:
        click.echo(f"hacheck: warning: {warning}", err=True)
    if output is None:
        sys.stdout.write(text)
        return
    _write_atomic(output, lambda s: s.write(text))
    n = len(module.types)
    click.echo(f"hacheck: wrote a draft of {n} node type{'s' if n != 1 else ''} of {module.name} to {output}: review every claim before use", err=True)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-o", "--output", default="hacheck-report.html", show_default=True, type=click.Path(dir_okay=False), help="Where to write the HTML report ('-': standard output).")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info", "never"]), default=None, help="Lowest severity that fails the run [default: warning].")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False), help="Extra folder of YAML rules (repeatable).")
@click.option("--select", multiple=True, help="Only these rules: ids, id prefixes or names.")
@click.option("--ignore", multiple=True, help="Skip these rules: ids, prefixes or names.")
@click.option("--preview", is_flag=True, help="Also run rules whose status is preview.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Use this .hacheck.yaml or pyproject.toml instead of searching upward from the paths.")
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False), help="Show findings in this baseline as suppressed.")
@click.pass_context
def report(ctx, paths, output, fail_on, rule_dirs, select, ignore, preview, config_file, baseline_file) -> None:
    """Write one self-contained HTML page: the verdict, a drawing of every tab with the
    flagged nodes, and the findings with their fixes. Exits as `check` does."""
    to_stdout = output == "-"
    try:
        ctx.invoke(
            check, paths=paths, formats=("html",), outputs=() if to_stdout else (output,), fail_on=fail_on,
            rule_dirs=rule_dirs, select=select, ignore=ignore, preview=preview, config_file=config_file,
            baseline_file=baseline_file,
        )
    except SystemExit:
        if not to_stdout:
            click.echo(f"hacheck: wrote {output}", err=True)
        raise


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff and change nothing.")
@click.option("--check", "check_only", is_flag=True, help="Change nothing; exit 1 if anything would change (for CI).")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply fixes that must choose a name (HA130, HA131), and $share/ fixes that split the state a subscription feeds.")
@click.option("--select", multiple=True, help="Only fix these rules (ids, prefixes or names).")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False))
def fix(paths, show_diff, check_only, unsafe_fixes, select, rule_dirs) -> None:
    """Repair the mechanical HA problems in place, changing only the values that are wrong."""
    from hacheck.commands.fix import fix_sources, unified_diff, write_atomic

    # the config file names the $share/ group (share_group) and what is excluded or ignored
    config, rules = _configure(paths, None, rule_packs=rule_dirs, select=_split(select))
    sources = [s for s in _discover(paths, config) if s.fs_path is not None]
    results = fix_sources(sources, config, rules, unsafe=unsafe_fixes)
    changed = [r for r in results if r.edits]
    errors = [r for r in results if r.error]
    for r in errors:
        click.echo(f"hacheck: {r.error}", err=True)
    for r in results:
        for note in r.notes:
            click.echo(f"hacheck: {note}", err=True)
    for r in changed:
        if show_diff or check_only:
            click.echo(unified_diff(r), nl=False)
        else:
            try:
                with open(r.fs_path, "rb") as fh:
                    original = fh.read(3)
                write_atomic(r.fs_path, r.new, original)
            except OSError as e:
                raise HacheckError(f"{r.path}: cannot write: {e.strerror or e}") from None
    n = sum(len(r.edits) for r in changed)
    rules_used = sorted({e.rule_id for r in changed for e in r.edits})
    verb = "would fix" if (show_diff or check_only) else "fixed"
    summary = f"{verb} {n} value{'s' if n != 1 else ''} in {len(changed)} file{'s' if len(changed) != 1 else ''}"
    if rules_used:
        summary += f" ({', '.join(rules_used)})"
    click.echo(summary, err=show_diff)
    if errors or (check_only and changed):
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_OK)


@cli.command()
@click.argument("flows", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="The folder to write: ha/flows.json, singleton/flows.json, report.txt, report.json.")
@click.option("--bridge", type=click.Choice(["project-link", "mqtt"]), default="project-link", show_default=True, help="How the two parts send each other messages: FlowFuse project link nodes, or MQTT through --broker.")
@click.option("--broker", metavar="URL", help="With --bridge mqtt: the broker both parts reach (mqtt://host:port or mqtts://host:port; no credentials).")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="The report printed on standard output.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Use this .hacheck.yaml or pyproject.toml instead of searching upward from FLOWS.")
@click.option("--force", is_flag=True, help="Replace what is in a folder that is not empty.")
def split(flows, out_dir, bridge, broker, fmt, config_file, force) -> None:
    """Split FLOWS into an HA part (several copies) and a singleton part (one copy), bridged.

    What must run once or on one host (timers, plain subscriptions, event streams, listeners,
    hardware, dashboards, state that load-balanced messages would split) moves to the
    singleton with what only it feeds; the rest stays. docs/split.md has the rule."""
    import json

    from hacheck.commands.split import SplitError, report_text, run

    if not os.path.isfile(flows):
        raise HacheckError(f"{flows}: no such file" if not os.path.exists(flows) else f"{flows}: not a file")
    config, rules = _configure([flows], config_file)
    try:
        data = run(flows, out_dir, bridge, broker, config, rules, force=force)
    except SplitError as e:
        raise HacheckError(str(e)) from None
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(report_text(data), nl=False)
    sys.exit(EXIT_OK)


@cli.command()
@click.argument("flows", type=click.Path(dir_okay=False), required=False)
@click.option("--target", "target_name", required=True, help="The target's name in the targets file.")
@click.option("--targets", "targets_file", type=click.Path(dir_okay=False), default=None, help="The targets file [default: hacheck-targets.yaml].")
@click.option("--dry-run", is_flag=True, help="Check and pre-flight only; report what would change.")
@click.option("--recover", is_flag=True, help="No FLOWS: put back every replica that the target's last deploy left on the new flows (its outcome was rollback-failed).")
@click.option("--audit-log", type=click.Path(dir_okay=False), default=None, help="Append the audit record here [default: the targets file's audit_log, else .hacheck-deploy.log].")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info", "never"]), default=None, help="Lowest severity that blocks the deploy [default: the configuration's, else warning].")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Use this .hacheck.yaml or pyproject.toml instead of searching upward from FLOWS.")
def deploy(flows, target_name, targets_file, dry_run, recover, audit_log, fail_on, config_file) -> None:
    """Deploy FLOWS to a target only if the checks pass; on any failure roll back (exit 1).

    With --recover (and no FLOWS), finish a rollback that the last deploy could not."""
    if recover:
        extra = [name for name, given in (("FLOWS", flows), ("--dry-run", dry_run), ("--fail-on", fail_on),
                                          ("--config", config_file)) if given]
        if extra:
            raise click.UsageError(f"--recover takes no {', '.join(extra)}: it reads the audit log")
        from hacheck.deploy.recover import run as recover_run

        sys.exit(recover_run(target_name, targets_file, audit_log=audit_log))
    if not flows:
        raise click.UsageError("missing argument FLOWS (the flows file to deploy), or --recover")
    from hacheck.deploy.gate import run

    sys.exit(run(flows, target_name, targets_file, dry_run=dry_run, audit_log=audit_log, fail_on=fail_on, config_file=config_file))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; anything but loopback needs --token-env.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one, printed at start).")
@click.option("--token-env", metavar="NAME", help="Require `Authorization: Bearer <token>`, the token read from this environment variable.")
@click.option("--max-body", "max_body_mb", default=50.0, show_default=True, type=click.FloatRange(min=0.001), help="Largest flow accepted, in MiB (larger: HTTP 413).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes running checks [default: the CPUs this process may use].")
@click.option("--queue", "queue_size", type=click.IntRange(min=0), default=32, show_default=True, help="Checks that may wait for a worker; beyond them, HTTP 503 with Retry-After.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info", "never"]), default=None, help="The threshold the reports' `failed` uses [default: the configuration's, else warning].")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False), help="Extra folder of YAML rules (repeatable).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Use this .hacheck.yaml or pyproject.toml instead of searching upward from the working directory.")
def serve(host, port, token_env, max_body_mb, workers, queue_size, fail_on, rule_dirs, config_file) -> None:
    """Answer check requests over HTTP (for the Node-RED editor plugin): POST /check, GET /rules,
    GET /rules/<id>, GET /health. Stops on Ctrl-C or SIGTERM."""
    import signal

    from hacheck.commands.serve import ServeError, build

    try:
        server = build(host, port, config_file, token_env, max_body_mb, fail_on=fail_on, rule_dirs=rule_dirs,
                       workers=workers, queue=queue_size)
    except ServeError as e:
        raise HacheckError(str(e)) from None
    bound_host, bound_port = server.server_address[:2]
    click.echo(f"hacheck serve: listening on http://{bound_host}:{bound_port} "
               f"({'bearer token required' if token_env else 'no token'}; {server.pool.workers} workers, "
               f"queue {server.pool.queue}); Ctrl-C stops", err=True)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):  # a second signal must not cut the workers' stop short
            signal.signal(sig, signal.SIG_IGN)
        server.server_close()
    sys.exit(EXIT_OK)


def main(argv=None) -> None:
    # a flow's JSON may hold lone surrogates ("\ud800"): print them as the same escape
    # rather than fail on them; every format is UTF-8 text
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):  # replaced by a test harness or already closed
            pass
    global _PROCESS_ENDS_WITH_COMMAND
    _PROCESS_ENDS_WITH_COMMAND = argv is None  # called as the console script
    try:
        cli.main(args=argv, prog_name="hacheck", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("hacheck: interrupted", err=True)
        sys.exit(EXIT_ERROR)
    except SystemExit as done:
        if _PROCESS_ENDS_WITH_COMMAND:
            _fast_exit(done.code)
        raise
    except Exception as exc:  # a crash is exit 2 with one line, never a traceback
        click.echo(f"hacheck: internal error: {type(exc).__name__}: {_safe(exc)} (set HACHECK_DEBUG=1 for details)", err=True)
        if os.environ.get("HACHECK_DEBUG"):
            import traceback

            traceback.print_exc()
        sys.exit(EXIT_ERROR)


def _fast_exit(code) -> None:
    """End the process without freeing the flow, graph and findings one object at a time:
    for a 100k-node flow that teardown took ~2.5 s, a quarter of the run. Files are written
    and closed by then; only the standard streams need a flush."""
    if code is None:
        code = EXIT_OK
    elif not isinstance(code, int):
        click.echo(str(code), err=True)
        code = EXIT_ERROR if code else EXIT_OK
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`hacheck check | head`): nothing to save
            if stream is sys.stdout and code == EXIT_OK:
                code = EXIT_ERROR
    os._exit(code)


def _safe(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200]
