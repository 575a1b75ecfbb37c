"""The command table and the single entry point that turns text into a Request or a reply."""

from __future__ import annotations

import difflib
import textwrap

from handlers import (check, control_plane, digest, ping, proxy_status, remote_clusters, topology,
                      trust, why_local_only)
from handlers.base import CommandSpec, Request, TextReply
from handlers.grammar import (HELP_FLAGS, HELP_WIDTH, SHOWN, ParsedArgs, UsageError, options_help,
                              refuse_others, shown_word, split_args, terminal_options_help,
                              tokenize)

# Commands of contract C1 that a later release adds; asking for one says so plainly.
PLANNED: dict[str, str] = {}


def _help_build(parsed: ParsedArgs) -> TextReply:
    if len(parsed.positionals) > 1:
        raise UsageError("help takes at most one command name", "help")
    if parsed.positionals:
        name = parsed.positionals[0]
        if name not in COMMANDS:
            raise UsageError(unknown_command_message(name), None)
        return TextReply("help", command_help(COMMANDS[name], terminal=parsed.terminal))
    return TextReply("help", overview(terminal=parsed.terminal))


HELP = CommandSpec(
    name="help",
    summary="usage and examples",
    usage="help [command]",
    examples=("help", "help why-local-only"),
    build=_help_build,
)

COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec for spec in (HELP, why_local_only.SPEC, remote_clusters.SPEC,
                                 control_plane.SPEC, trust.SPEC, proxy_status.SPEC, check.SPEC,
                                 topology.SPEC, digest.SPEC, ping.SPEC)}


def unknown_command_message(name: str) -> str:
    if name in PLANNED:
        return f"`{name}` ({PLANNED[name]}) is not available in this version yet."
    close = difflib.get_close_matches(name[:SHOWN], list(COMMANDS) + list(PLANNED), n=1)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return f"unknown command {shown_word(name, '`{}`')}.{hint}"


def parse(text_or_tokens: str | list[str], *, terminal: bool) -> Request | TextReply:
    """Parse `<command> [args]`; raise UsageError with a message fit to show the asker.

    `-h`/`--help` asks for help as a terminal user expects: alone (or before a command name)
    it is `help [command]`; after a command it shows that command's help, whatever else is given.
    In a terminal, help also lists the terminal-only options; in Slack it does not.
    """
    tokens = tokenize(text_or_tokens) if isinstance(text_or_tokens, str) else list(text_or_tokens)
    if not tokens:
        return TextReply("help", overview(terminal=terminal))
    if tokens[0] in HELP_FLAGS:
        tokens[0] = HELP.name
    name, rest = tokens[0], tokens[1:]
    spec = COMMANDS.get(name)
    if spec is None and name.startswith("-") and len(name) > 1:
        raise UsageError(f"the command comes first, then its options: <command> [args] "
                         f"(got {shown_word(name)} first)")
    if spec is None:
        raise UsageError(unknown_command_message(name))
    if spec is not HELP and any(token in HELP_FLAGS for token in rest):
        return TextReply("help", command_help(spec, terminal=terminal))
    parsed = split_args([t for t in rest if t not in HELP_FLAGS] if spec is HELP else rest,
                        name, terminal=terminal)
    if spec is not HELP:
        refuse_others(parsed, name, spec.options)
    return spec.build(parsed)


def usage_text(command: str | None) -> str:
    """What to show after a usage error: the command's usage, or the list of commands."""
    if command and command in COMMANDS:
        spec = COMMANDS[command]
        return f"usage: {spec.usage}\nexample: {spec.examples[0]}"
    return overview()


def command_help(spec: CommandSpec, *, terminal: bool = False) -> str:
    """A command's summary, usage, every option it takes with its real default (in a terminal
    the terminal-only options too), and examples."""
    lines = textwrap.wrap(f"{spec.name}: {spec.summary}", HELP_WIDTH, subsequent_indent="  ")
    lines += [f"usage: {spec.usage}", *options_help(spec.options)]
    lines += ["examples:", *[f"  {e}" for e in spec.examples]]
    if terminal and spec is not HELP:
        lines += ["", *terminal_options_help()]
    return "\n".join(lines)


def overview(*, terminal: bool = False) -> str:
    """Every command with an example; in a terminal, also the terminal-only options."""
    lines = ["commands:"]
    for spec in COMMANDS.values():
        lines.append(f"  {spec.usage}")
        lines += textwrap.wrap(spec.summary, HELP_WIDTH, initial_indent=" " * 6,
                               subsequent_indent=" " * 6)
    lines += ["", "`help <command>` lists the options a command takes, with their defaults.",
              "examples:"]
    for spec in COMMANDS.values():
        if spec.name != "help":
            lines.append(f"  {spec.examples[0]}")
    if terminal:
        lines += ["", *terminal_options_help()]
    return "\n".join(lines)
