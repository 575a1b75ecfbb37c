"""One grammar for `/mesh <command> [args]` in Slack and `meshbot mesh <command> [args]` in a terminal.

Parsing is hand-written rather than argparse because the same text arrives from Slack, where
argparse's habit of printing and exiting is wrong, and because every mistake must become one
clear usage message. Names are validated here, before anything is fetched.

Text from Slack is untrusted and may be huge: its length is bounded before anything else looks
at it, it is split in one linear pass, names are matched in full (`fullmatch`: `$` would accept a
trailing newline), and a message quotes at most a short prefix of what was typed.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

from diagnostics.names import is_cluster, is_label, is_object_name, is_service

MAX_TEXT = 4000  # characters of command text read at all; longer text is refused unread
SHOWN = 60  # characters of user input quoted back in a message
_PLAIN_WORD = re.compile(r"[A-Za-z0-9-][A-Za-z0-9._-]{0,%d}" % (SHOWN - 1))

# One token piece per match; every alternative is linear and the last one catches what no
# other does (an unterminated quote, a trailing backslash), so splitting is a single pass.
_PIECE = re.compile(r"""(?P<space>\s+)|'(?P<single>[^']*)'|"(?P<double>(?:[^"\\]|\\.)*)"|"""
                    r"""\\(?P<escaped>.)|(?P<plain>[^\s'"\\]+)|(?P<bad>.)""", re.DOTALL)
_DOUBLE_ESCAPE = re.compile(r'\\([\\"])')

# Slack may turn quotes into typographic ones; treat them as plain quotes.
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


class UsageError(Exception):
    """Bad input: the message says what is wrong; `command` selects the usage to show."""

    def __init__(self, message: str, command: str | None = None):
        self.command = command
        super().__init__(message)

    def __reduce__(self):  # raised in a diagnosing child (bot/isolated.py), command kept
        return (type(self), (str(self), self.command))


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    dest: str
    takes_value: bool = True
    repeatable: bool = False
    terminal_only: bool = False
    metavar: str = "value"
    choices: tuple[str, ...] = ()  # when set, the only values accepted
    help: str = ""

    def usage(self) -> str:
        """`--output/-o text|json|slack`, `--context <name>`: how the option is written."""
        flags = "/".join(self.flags)
        if not self.takes_value:
            return flags
        return f"{flags} {'|'.join(self.choices) if self.choices else f'<{self.metavar}>'}"


HELP_FLAGS = ("-h", "--help")
OUTPUTS = ("text", "json", "slack")
PICTURES = ("png", "svg")  # the topology picture of the report (diagnostics/render/topology_*)
COMMON_OPTIONS = (
    Option(("-n", "--namespace"), "namespace", metavar="namespace"),
    Option(("-A", "--all-namespaces"), "all_namespaces", takes_value=False),
    Option(("--cluster",), "clusters", repeatable=True, metavar="name"),
    Option(("--from",), "from", metavar="pod"),
)
TERMINAL_OPTIONS = (
    Option(("--snapshot",), "snapshot", repeatable=True, terminal_only=True, metavar="path",
           help="read a snapshot or an istioctl bug-report (folder or .tar.gz) instead of "
           "live clusters; one per cluster"),
    Option(("--kubeconfig",), "kubeconfig", terminal_only=True, metavar="file",
           help="kubeconfig to read; alone, every context in it is a cluster"),
    Option(("--context",), "contexts", repeatable=True, terminal_only=True, metavar="name",
           help="a kubeconfig context to read as a cluster"),
    Option(("--config",), "config", terminal_only=True, metavar="file",
           help="meshbot config file (default: $MESHBOT_CONFIG)"),
    Option(("--output", "-o"), "output", terminal_only=True, choices=OUTPUTS + PICTURES,
           help="report format (default: text); png and svg draw the report's picture of the "
           "mesh (best with topology)"),
    Option(("--out",), "out", terminal_only=True, metavar="file",
           help="write the output to this file instead of standard output"),
    Option(("-v", "--verbose"), "verbose", takes_value=False, terminal_only=True,
           help="text: the evidence of every step, not only of those that need attention"),
    Option(("--no-color",), "no_color", takes_value=False, terminal_only=True,
           help="no colours (default: colours on a terminal unless NO_COLOR is set)"),
    Option(("--no-cache",), "no_cache", takes_value=False, terminal_only=True,
           help="diagnose afresh instead of reusing a cached report"),
    Option(("--timeout",), "timeout", terminal_only=True, metavar="seconds",
           help="deadline for each cluster's reads (default: 10, or the config's)"),
)
OPTIONS = {opt.dest: opt for opt in COMMON_OPTIONS + TERMINAL_OPTIONS}
_FLAGS = {flag: opt for opt in COMMON_OPTIONS + TERMINAL_OPTIONS for flag in opt.flags}


HELP_WIDTH = 80


def _rows(rows: list[tuple[str, str]]) -> list[str]:
    """Two columns, the second wrapped to HELP_WIDTH under itself."""
    width = max(len(usage) for usage, _ in rows)
    out = []
    for usage, text in rows:
        lines = textwrap.wrap(text, max(30, HELP_WIDTH - width - 4), break_on_hyphens=False) \
            or [""]
        out.append(f"  {usage.ljust(width)}  {lines[0]}".rstrip())
        out += [" " * (width + 4) + line for line in lines[1:]]
    return out


def options_help(options: dict[str, str]) -> list[str]:
    """The "options:" lines of a command's help: each option it takes with what it means
    there and its real default (`options` maps an option's dest to that text)."""
    rows = [(OPTIONS[dest].usage(), text + (" (repeatable)" if OPTIONS[dest].repeatable else ""))
            for dest, text in options.items()]
    return ["options:", *_rows(rows)] if rows else []


def terminal_options_help() -> list[str]:
    """The "terminal options" lines of `meshbot mesh help`, from the options parsed above."""
    return ["terminal options:", *_rows([(opt.usage(), opt.help + (" (repeatable)" if
                                                                     opt.repeatable else ""))
                                         for opt in TERMINAL_OPTIONS])]


@dataclass
class ParsedArgs:
    """Tokens split into positionals and options, before a command gives them meaning."""

    positionals: list[str] = field(default_factory=list)
    options: dict[str, object] = field(default_factory=dict)
    terminal: bool = False  # typed in a terminal (meshbot mesh), not in Slack


def shown(value: str, limit: int = SHOWN) -> str:
    """User input as a message quotes it: repr'd, and only a short prefix of a long value."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value):,} characters)"


def shown_word(value: str, style: str = "{}") -> str:
    """A word the asker typed, quoted back: as it is (in `style`) when it is a plain word, else
    as `shown` quotes it, so neither markup nor long input is echoed."""
    return style.format(value) if _PLAIN_WORD.fullmatch(value) else shown(value)


def check_length(text: str) -> str:
    """Refuse text longer than any command before anything else reads it."""
    if len(text) > MAX_TEXT:
        raise UsageError(f"the command text is {len(text):,} characters long; meshbot reads "
                         f"commands of at most {MAX_TEXT:,} characters")
    return text


def tokenize(text: str) -> list[str]:
    """Split command text as a POSIX shell would (quotes, backslash escapes), forgiving Slack's
    typographic quotes, in one linear pass (shlex.split is quadratic in a word's length)."""
    tokens: list[str] = []
    word: list[str] | None = None
    for m in _PIECE.finditer(check_length(text).translate(_SMART_QUOTES)):
        kind = m.lastgroup
        if kind == "space":
            if word is not None:
                tokens.append("".join(word))
            word = None
            continue
        if kind == "bad":
            problem = "a backslash ends it" if m.group() == "\\" else \
                f"no closing quotation ({m.group()})"
            raise UsageError(f"cannot parse the command text: {problem}")
        piece = m.group(kind)
        if kind == "double":
            piece = _DOUBLE_ESCAPE.sub(r"\1", piece)
        if word is None:
            word = []
        word.append(piece)
    if word is not None:
        tokens.append("".join(word))
    return tokens


def _expand(token: str) -> list[tuple[str, str | None]]:
    """One command-line word as (flag, inline value) pairs, the way kubectl reads flags:
    `--namespace=sample`, `-n=sample`, `-nsample`, `-ojson`, and short flags without values
    run together (`-Av`). A word that is not a known flag comes back as it is."""
    flag, eq, inline = token.partition("=")
    if flag in _FLAGS or token.startswith("--"):
        return [(flag, inline if eq else None)]
    pairs: list[tuple[str, str | None]] = []
    rest = token[1:]
    while rest:
        opt = _FLAGS.get("-" + rest[0])
        if opt is None:
            return [(token, None)] if not pairs else pairs + [("-" + rest, None)]
        if opt.takes_value:
            value = rest[1:].removeprefix("=")
            return pairs + [("-" + rest[0], value if value else None)]
        pairs.append(("-" + rest[0], None))
        rest = rest[1:]
    return pairs


def split_args(tokens: list[str], command: str, *, terminal: bool) -> ParsedArgs:
    """Separate options from positionals; unknown options and missing values are usage errors."""
    parsed = ParsedArgs(terminal=terminal)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token.startswith("-") or token == "-":
            parsed.positionals.append(token)
            continue
        for flag, inline in _expand(token):
            opt = _FLAGS.get(flag)
            if opt is None:
                raise UsageError(f"unknown option {shown_word(flag)}", command)
            if opt.terminal_only and not terminal:
                raise UsageError(f"{flag} only works in a terminal (meshbot mesh ...)", command)
            if not opt.takes_value:
                if inline is not None:
                    raise UsageError(f"{flag} takes no value", command)
                parsed.options[opt.dest] = True
                continue
            if inline is not None and inline == "":
                raise UsageError(f"{flag} needs a value", command)
            if inline is None:
                if i >= len(tokens):
                    raise UsageError(f"{flag} needs a value", command)
                inline, i = tokens[i], i + 1
            _store(parsed, opt, flag, inline, command)
    return parsed


def _store(parsed: ParsedArgs, opt: Option, flag: str, value: str, command: str) -> None:
    if opt.choices and value not in opt.choices:  # the value is not quoted back
        raise UsageError(f"{flag} must be one of {', '.join(opt.choices)}", command)
    if opt.repeatable:
        parsed.options.setdefault(opt.dest, [])
        parsed.options[opt.dest].append(value)  # type: ignore[union-attr]
    elif opt.dest in parsed.options:
        raise UsageError(f"{flag} given twice", command)
    else:
        parsed.options[opt.dest] = value


def refuse_others(parsed: ParsedArgs, command: str, takes: dict[str, str]) -> None:
    """Options the command does not take are a usage error, never silently ignored."""
    for dest in parsed.options:
        opt = OPTIONS[dest]
        if not opt.terminal_only and dest not in takes:
            raise UsageError(f"{command} does not take {'/'.join(opt.flags)}", command)


def validate_namespace(value: str, command: str | None = None) -> str:
    if not is_label(value):
        raise UsageError(f"{shown(value)} is not a valid namespace name (lowercase letters, digits "
                         "and '-', at most 63 characters)", command)
    return value


def validate_service(value: str, command: str | None = None) -> str:
    if not is_service(value):
        raise UsageError(f"{shown(value)} is not a valid service name (starts with a letter; "
                         "lowercase letters, digits and '-'; at most 63 characters)", command)
    return value


def validate_object_name(value: str, command: str | None = None) -> str:
    if not is_object_name(value):
        raise UsageError(f"{shown(value)} is not a valid Kubernetes object name", command)
    return value


def validate_cluster(value: str, command: str | None = None) -> str:
    if not is_cluster(value):
        raise UsageError(f"{shown(value)} is not a valid cluster name", command)
    return value
