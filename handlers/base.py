"""What a command module declares, and what parsing a command line produces.

Each command lives in its own module under handlers/ and exports a `SPEC`; the bot and the
terminal both go through `handlers.commands.parse`, so a command behaves the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from handlers.grammar import ParsedArgs

if TYPE_CHECKING:
    from diagnostics.engine import Plan


@dataclass
class Request:
    """A validated ask: the command, its contract arguments and the checks to run, in order."""

    command: str
    args: dict[str, Any]
    checks: list[str]
    clusters: list[str] = field(default_factory=list)  # --cluster limits
    options: dict[str, Any] = field(default_factory=dict)  # terminal-only options
    read_all_clusters: bool = False  # --cluster narrows whose view is examined, not what is read

    def plan(self) -> Plan:
        # The checks (and the engine) load here, not when a command is parsed: `help` and a
        # usage error answer without importing them; and only the checks the plan runs.
        from diagnostics.checking import REGISTRY
        from diagnostics.engine import Plan

        specs = [REGISTRY[name] for name in self.checks]
        limit = self.clusters or None
        if self.read_all_clusters:
            return Plan(self.command, self.args, specs, None, limit)
        return Plan(self.command, self.args, specs, limit, limit)


@dataclass
class TextReply:
    """A command answered without a diagnosis (help)."""

    command: str
    text: str


@dataclass(frozen=True)
class CommandSpec:
    name: str
    summary: str
    usage: str
    examples: tuple[str, ...]
    build: Callable[[ParsedArgs], Request | TextReply]
    description: str = ""
    checks: tuple[str, ...] = ()  # the checks it runs, in runbook order (none for help)
    # The options the command takes (an option's dest -> what it means here, with its real
    # default); help lists them, and any other option is a usage error.
    options: dict[str, str] = field(default_factory=dict)
