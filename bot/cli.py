"""The `meshbot` command line: diagnoses in a terminal, the demo, the simulator and the catalog.

Exit codes (contract C1): 0 healthy or expected, 1 problem found, 2 usage error, 3 could not
diagnose. Bad input always gets a one-line reason and the usage, never a traceback. Output
that a pipe stops reading (`meshbot ... | head`) ends quietly with 141, as a shell reports a
command ended by SIGPIPE.

Text wraps to the terminal's width (COLUMNS when set; 80 when the output is not a terminal)
and is coloured only on a terminal, unless NO_COLOR is set or --no-color given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from diagnostics import gcpause
from handlers.base import Request, TextReply
from handlers.commands import parse, usage_text
from handlers.grammar import OUTPUTS, PICTURES, UsageError, shown

if TYPE_CHECKING:
    from diagnostics.model import Report

# Everything else is imported by the command that uses it: `meshbot mesh help` answers after
# the grammar alone, not after Slack's rendering, the kubernetes client, pydantic and the checks
# (three quarters of a second of imports; tests/test_footprint.py keeps it so).

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_UNDIAGNOSED = 0, 1, 2, 3
EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a command whose reader went away
VERDICT_EXIT = {"healthy": EXIT_OK, "expected": EXIT_OK, "problem": EXIT_PROBLEM,
                "inconclusive": EXIT_UNDIAGNOSED}
REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_SNAPSHOT = REPO_ROOT / "examples" / "demo-mesh"
BUNDLED_DEMO = Path(__file__).resolve().parent / "demo-mesh"  # in a wheel: setup.py puts it here
DEMO_COMMAND = "why-local-only helloworld -n sample"
NO_CLUSTERS = ("Point meshbot at the mesh's clusters: --kubeconfig <file> (every context in it "
               "is a cluster), --context <name> (repeatable), or a config file (--config or "
               "MESHBOT_CONFIG) listing clusters and contexts; read a snapshot with --snapshot "
               "<dir>; or try `meshbot demo`, the bundled demo mesh.")


def _fail(message: str, code: int) -> int:
    print(f"meshbot: {message}", file=sys.stderr)
    return code


def _color(no_color: bool = False) -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and not no_color


def _width() -> int:
    """The terminal's columns: COLUMNS when set, the terminal's size, else 80 (a pipe)."""
    return shutil.get_terminal_size((80, 24)).columns


def render(report: Report, output: str, command_text: str | None = None, *,
           verbose: bool = False, no_color: bool = False) -> str:
    if output == "json":
        from diagnostics.render.json_report import render_json

        return render_json(report)
    if output == "slack":
        import json

        from bot.answer_blocks import thread

        messages = [{"text": m.text, "blocks": m.blocks,
                     "files": [name for name, _ in m.files]} for m in thread(report, command_text)]
        return json.dumps({"messages": messages}, indent=2, ensure_ascii=False) + "\n"
    from diagnostics.render.text import render_text

    return render_text(report, color=_color(no_color), width=_width(), verbose=verbose)


def _timeout(options: dict, default: float) -> float:
    raw = options.get("timeout")
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"--timeout must be a number of seconds, not {shown(raw)}") from None
    if value <= 0:
        raise UsageError("--timeout must be positive")
    return value


async def _diagnose(request: Request) -> tuple[Report, str]:
    from diagnostics.config import load_config
    from diagnostics.reports import ReportCache
    from diagnostics.sources.factory import build_source
    from diagnostics.store.resilient import open_store
    from handlers.run import Answerer

    opts = request.options
    output = str(opts.get("output", "text"))
    if output not in OUTPUTS + PICTURES:
        raise UsageError(f"--output must be one of {', '.join(OUTPUTS + PICTURES)}",
                         request.command)
    if output in PICTURES and not opts.get("out") and sys.stdout.isatty():
        raise UsageError(f"a {output} picture is not printed on a terminal: give --out <file> "
                         "or redirect the output", request.command)
    config = load_config(opts.get("config"))
    timeout = _timeout(opts, config.diagnosis.cluster_timeout_seconds)
    source = build_source(config, snapshot=opts.get("snapshot"), kubeconfig=opts.get("kubeconfig"),
                          contexts=opts.get("contexts"), timeout=timeout)
    store = open_store(os.environ.get("REDIS_URL"))
    try:
        # A terminal shares answers only through Redis; in-process caching would be pointless.
        cache = ReportCache(store, config.cache.ttl_seconds) if os.environ.get("REDIS_URL") else None
        answerer = Answerer(source, cache, timeout)
        return await answerer.answer(request, fresh=bool(opts.get("no_cache"))), output
    finally:
        await source.close()
        await store.close()


def _snapshot_error() -> type[Exception]:
    """SnapshotError, imported when an error is being told apart: a diagnosis of live clusters
    never loads the snapshot module (a hundredth of a second, tarfile and all)."""
    from diagnostics.snapshot import SnapshotError

    return SnapshotError


def cmd_mesh(words: list[str]) -> int:
    try:
        parsed = parse(words, terminal=True)
        if isinstance(parsed, TextReply):
            print(parsed.text)
            return EXIT_OK
    except UsageError as exc:
        return _fail(f"{exc}\n{usage_text(exc.command)}", EXIT_USAGE)
    import asyncio

    from diagnostics.config import ConfigError
    from diagnostics.sources.factory import NoKubeconfig

    try:
        report, output = asyncio.run(_diagnose(parsed))
    except UsageError as exc:
        return _fail(f"{exc}\n{usage_text(exc.command)}", EXIT_USAGE)
    except NoKubeconfig as exc:
        return _fail(f"no cluster to read: {exc}.\n{NO_CLUSTERS}", EXIT_USAGE)
    except (ConfigError, _snapshot_error()) as exc:  # evaluated only once something is raised
        return _fail(str(exc), EXIT_USAGE)
    opts = parsed.options
    if output in PICTURES:
        return _picture(report, output, opts.get("out"))
    text = render(report, output, verbose=bool(opts.get("verbose")),
                  no_color=bool(opts.get("no_color")) or bool(opts.get("out")))
    if opts.get("out"):
        return _write(str(opts["out"]), text.encode(), VERDICT_EXIT[report.verdict])
    sys.stdout.write(text)
    return VERDICT_EXIT[report.verdict]


def _picture(report: "Report", fmt: str, out: object) -> int:
    """The report's topology picture, to --out or standard output. Without dot (or when it
    fails) the picture cannot be had: exit 2 with the reason and the way to the text."""
    from diagnostics.render.topology_draw import DrawError, draw
    from diagnostics.render.topology_model import build

    try:
        body = draw(build(report), fmt)
    except DrawError as exc:
        return _fail(f"no picture: {exc}. The diagnosis itself ({report.verdict}) is in "
                     "`-o text` or `-o json`.", EXIT_USAGE)
    if out:
        return _write(str(out), body, VERDICT_EXIT[report.verdict])
    sys.stdout.buffer.write(body)
    sys.stdout.flush()
    return VERDICT_EXIT[report.verdict]


def _write(path: str, body: bytes, code: int) -> int:
    try:
        Path(path).write_bytes(body)
    except OSError as exc:
        return _fail(f"cannot write {shown(path)}: {exc.strerror}", EXIT_USAGE)
    print(f"meshbot: wrote {path} ({len(body):,} bytes)", file=sys.stderr)
    return code


def demo_snapshot() -> Path:
    """The bundled demo mesh: the installed package's copy (wheel, image), else the checkout's."""
    return BUNDLED_DEMO if BUNDLED_DEMO.is_dir() else DEMO_SNAPSHOT


def cmd_demo(args: argparse.Namespace) -> int:
    """The whole pipeline on the bundled demo mesh, printed as the bot's Slack thread."""
    import asyncio

    from bot.answer_blocks import thread
    from bot.thread_text import thread_as_text
    from diagnostics.snapshot import SnapshotError
    from diagnostics.sources.snapshot import SnapshotSource
    from handlers.run import answer

    request = parse(DEMO_COMMAND, terminal=False)
    assert isinstance(request, Request)
    try:
        source = SnapshotSource.open(args.snapshot or demo_snapshot())
    except SnapshotError as exc:
        return _fail(str(exc), EXIT_USAGE)
    report = asyncio.run(answer(request, source))
    if args.output == "thread":
        print(f"$ /mesh {DEMO_COMMAND}   (demo mesh: {args.snapshot or 'the bundled demo mesh'})\n")
        sys.stdout.write(thread_as_text(thread(report, DEMO_COMMAND), color=_color(),
                                        width=_width()))
    else:
        sys.stdout.write(render(report, args.output, DEMO_COMMAND))
    return EXIT_OK  # the demo ran; its mesh has a fault on purpose


def cmd_replay(args: argparse.Namespace) -> int:
    from diagnostics.debug_auth import DebugCaller
    from diagnostics.replay.runner import ReplayTLS, run_replay_cli

    if bool(args.tls_cert) != bool(args.tls_key):
        print("meshbot replay: --tls-cert and --tls-key go together", file=sys.stderr)
        return EXIT_USAGE
    tls = ReplayTLS(args.tls_cert, args.tls_key) if args.tls_cert else None
    try:
        caller = DebugCaller.parse(args.debug_caller)
    except ValueError as exc:
        print(f"meshbot replay: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_replay_cli(args.snapshot, port=args.port, latency_ms=args.latency_ms,
                          kubeconfig_out=args.kubeconfig_out, host=args.host, tls=tls,
                          context_names=args.context_name, debug_caller=caller,
                          request_log=args.request_log, withhold=args.withhold,
                          managed_fields=args.managed_fields)


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Capture live clusters into a snapshot folder or .tar.gz (secrets redacted)."""
    import asyncio

    from diagnostics.capture import CaptureOptions, capture
    from diagnostics.config import ConfigError, load_config
    from diagnostics.sources.factory import live_source

    out = Path(args.out)
    if out.exists() and (out.is_file() or any(out.iterdir())):
        return _fail(f"{out} exists and is not empty; choose a new path", EXIT_USAGE)
    try:
        config = load_config(args.config)
        # a snapshot keeps what diagnoses leave unread: other tools and later checks may read it
        source = live_source(config, kubeconfig=args.kubeconfig, contexts=args.context,
                             timeout=config.diagnosis.cluster_timeout_seconds,
                             whole_objects=True)
    except ConfigError as exc:
        return _fail(str(exc), EXIT_USAGE)

    async def run():
        try:
            return await capture(source, out, CaptureOptions(args.namespace or [],
                                                             args.max_config_dumps))
        finally:
            await source.close()

    results = asyncio.run(run())
    for result in results:
        print(result.summary())
        for error in result.errors[:10]:
            print(f"  not readable: {error}", file=sys.stderr)
    print(f"snapshot written to {out}")
    unreachable = [r for r in results if not r.kinds]
    return EXIT_UNDIAGNOSED if len(unreachable) == len(results) else EXIT_OK


def cmd_serve(_args: argparse.Namespace) -> int:
    """The Slack bot (contract C6/C7); configuration from the environment and MESHBOT_CONFIG."""
    import asyncio

    from bot import logs
    from bot.serve import SetupError, clause, serve
    from diagnostics.config import ConfigError, load_config
    from bot.settings import Settings, SettingsError, drop_secrets

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        return _fail(str(exc), EXIT_USAGE)
    drop_secrets()
    try:
        config = load_config(settings.config_path)
    except ConfigError as exc:
        return _fail(f"MESHBOT_CONFIG is not a usable config file: {clause(exc)}. Fix the "
                     "file, or unset MESHBOT_CONFIG to read the kubeconfig's current context "
                     "(KUBECONFIG) or a snapshot (MESHBOT_SNAPSHOT).", EXIT_USAGE)
    logs.configure(settings.log_format, settings.log_level)
    try:
        return asyncio.run(serve(settings, config))
    except SetupError as exc:
        return _fail(str(exc), EXIT_USAGE)


def cmd_catalog(args: argparse.Namespace) -> int:
    from diagnostics.render.catalog import UnknownFinding, render_catalog

    try:
        sys.stdout.write(render_catalog(args.output, args.id))
    except UnknownFinding as exc:
        return _fail(str(exc), EXIT_USAGE)
    return EXIT_OK


def cmd_completion(args: argparse.Namespace) -> int:
    """A shell completion script, generated from the grammar (meshbot's commands, every mesh
    command with its options and their choices) by shtab."""
    import shtab

    sys.stdout.write(shtab.complete(completion_parser(), args.shell))
    return EXIT_OK


def completion_parser() -> argparse.ArgumentParser:
    """meshbot's command line as argparse sees it, with `mesh` spelled out for completion."""
    return _parser(mesh_commands=True)


def _mesh_commands(mesh: argparse.ArgumentParser) -> None:
    """Under `mesh`, a subcommand per grammar command with the options that command takes
    and the terminal options: what shell completion offers. The grammar in handlers/ stays
    the one parser of mesh words; this tree only describes it."""
    from handlers.commands import COMMANDS
    from handlers.grammar import OPTIONS, TERMINAL_OPTIONS

    commands = mesh.add_subparsers(dest="command", metavar="<command>")
    for spec in COMMANDS.values():
        cmd = commands.add_parser(spec.name, help=spec.summary)
        if spec.name == "help":
            cmd.add_argument("topic", nargs="?", choices=list(COMMANDS))
            continue
        for opt in [OPTIONS[d] for d in spec.options] + list(TERMINAL_OPTIONS):
            kwargs: dict = {"action": "append" if opt.repeatable else "store"} \
                if opt.takes_value else {"action": "store_true"}
            if opt.choices:
                kwargs["choices"] = list(opt.choices)
            cmd.add_argument(*opt.flags, dest=opt.dest,
                             help=spec.options.get(opt.dest) or opt.help or None, **kwargs)


def _parser(mesh_commands: bool = False) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="meshbot", description="Istio mesh troubleshooting runbooks, "
                                "in Slack and in the terminal.")
    from bot import __version__

    p.add_argument("--version", action="version", version=f"meshbot {__version__}")
    sub = p.add_subparsers(dest="cmd",
                           metavar="{mesh,serve,demo,replay,snapshot,catalog,completion}")
    sub.required = True
    mesh = sub.add_parser("mesh", help="run a diagnosis: meshbot mesh <command> [args]",
                          add_help=False)
    if mesh_commands:
        _mesh_commands(mesh)
    else:
        mesh.add_argument("words", nargs=argparse.REMAINDER)
    demo = sub.add_parser("demo", help="the whole pipeline on the bundled demo mesh")
    demo.add_argument("--output", choices=("thread",) + OUTPUTS, default="thread")
    demo.add_argument("--snapshot", help="another snapshot to run the demo on")
    replay = sub.add_parser("replay", help="serve a snapshot as Kubernetes API servers")
    replay.add_argument("snapshot")
    replay.add_argument("--port", type=int, default=0, help="first port (default: ephemeral)")
    replay.add_argument("--host", default="127.0.0.1")
    replay.add_argument("--latency-ms", type=float, default=0.0)
    replay.add_argument("--kubeconfig-out", help="write the kubeconfig here instead of stdout")
    replay.add_argument("--tls-cert", help="serve HTTPS with this certificate (valid for the "
                        "host; the kubeconfig trusts it as the CA)")
    replay.add_argument("--tls-key", help="the certificate's private key")
    replay.add_argument("--context-name", action="append", default=[],
                        metavar="CLUSTER=CONTEXT", help="name a cluster's kubeconfig context "
                        "unlike its id, as real contexts are (repeatable)")
    replay.add_argument("--debug-caller", default="loopback", metavar="WHO",
                        help="who istiod's debug endpoints see calling through a port-forward: "
                        "loopback (default, as in a real cluster), anonymous (not loopback, no "
                        "credentials: 401) or namespace:<ns> (authenticated workload of <ns>: "
                        "403 where istiod's debug authorization applies)")
    replay.add_argument("--request-log", metavar="FILE", help="append one JSON line per "
                        "request answered (cluster, path, arrival and completion time, bytes)")
    replay.add_argument("--withhold", action="append", default=[], metavar="KIND",
                        help="answer 403 Forbidden to every read of KIND (repeatable), as an "
                        "install whose RBAC does not grant it: `--withhold secrets` is the "
                        "install without Secret reads")
    replay.add_argument("--managed-fields", action="store_true",
                        help="serve pods with the metadata.managedFields a real API server "
                        "keeps on them (snapshots hold none): answers as heavy as real ones")
    sub.add_parser("serve", help="run the Slack bot (settings from the environment)")
    snap = sub.add_parser("snapshot", help="capture live clusters into a snapshot (redacted)")
    snap.add_argument("--out", required=True, help="a new folder, or a path ending in .tar.gz")
    snap.add_argument("--kubeconfig")
    snap.add_argument("--context", action="append", help="repeatable; default: see README")
    snap.add_argument("--config")
    snap.add_argument("-n", "--namespace", action="append",
                      help="capture config dumps only here, and the workload logs `check` "
                      "reads (repeatable)")
    snap.add_argument("--max-config-dumps", type=int, default=200)
    catalog = sub.add_parser("catalog", help="print the finding catalog, or one finding")
    catalog.add_argument("id", nargs="?", help="one finding id: that entry in full")
    catalog.add_argument("--output", "-o", choices=("text", "json", "markdown"), default="text",
                         help="text: one line per finding (one finding: in full); json and "
                         "markdown: every finding in full, and every check with its "
                         "description (default: text)")
    completion = sub.add_parser("completion", help="print a shell completion script: "
                                "source <(meshbot completion bash)")
    completion.add_argument("shell", choices=("bash", "zsh", "tcsh"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["mesh"]:
        # One diagnosis, then the process ends: no collection, from before the imports on
        gcpause.exiting_after_one_diagnosis()
        # The mesh grammar (handlers/) parses its own words, `--help` included: argparse's
        # REMAINDER cannot start with an option, so `mesh --help` would be "unrecognized".
        args = argparse.Namespace(cmd="mesh", words=argv[1:])
    else:
        args = _parser().parse_args(argv)
    handlers = {"mesh": lambda: cmd_mesh(args.words), "demo": lambda: cmd_demo(args),
                "replay": lambda: cmd_replay(args), "snapshot": lambda: cmd_snapshot(args),
                "serve": lambda: cmd_serve(args),
                "catalog": lambda: cmd_catalog(args), "completion": lambda: cmd_completion(args)}
    try:
        code = handlers[args.cmd]()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _reader_gone()
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from diagnostics.catalog import CatalogError

        if isinstance(exc, CatalogError):
            return _fail(f"catalog error: {exc}", EXIT_UNDIAGNOSED)
        raise


def _reader_gone() -> int:
    """The pipe's reader stopped (`| head`): what is left to write goes nowhere, quietly
    (Python would otherwise complain when it flushes stdout at exit)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
