"""Findings that repeat one id, shown once in full and then one line per further resource.

`check ns/<name>` over a namespace of uninjected workloads finds the same problem seventy times;
seventy copies of one cause, fix and why bury the answer. Renderers (terminal and Slack) show
the first in full and, for the rest, what differs: the resource, its title (which carries the
specific reason) and the commands that name it. The report itself keeps every finding.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from diagnostics.model import RenderedFinding

#: From this many findings of one id on, the renderers group them.
GROUP_AT = 3


@dataclass
class FindingGroup:
    head: RenderedFinding
    more: list[RenderedFinding] = field(default_factory=list)

    def more_heading(self) -> str:
        return f"The same in {len(self.more)} more (cause, fix and why as above):"

    def member_lines(self) -> list[str]:
        """Per further finding: its title (catalog titles name the resource and the specific
        reason) in its cluster, then the commands the head does not show."""
        lines = []
        for f in self.more:
            lines.append(f"[{f.cluster}] {f.title}" if f.cluster else f.title)
            lines += [f"  $ {cmd}" for cmd in f.commands if cmd not in self.head.commands]
        return lines


def group_findings(findings: list[RenderedFinding]) -> list[FindingGroup]:
    """Findings in their order; an id seen GROUP_AT times or more becomes one group at the
    place of its first (most important) finding."""
    counts = Counter(f.id for f in findings)
    groups: list[FindingGroup] = []
    by_id: dict[str, FindingGroup] = {}
    for f in findings:
        if counts[f.id] >= GROUP_AT and f.id in by_id:
            by_id[f.id].more.append(f)
            continue
        group = FindingGroup(f)
        groups.append(group)
        if counts[f.id] >= GROUP_AT:
            by_id[f.id] = group
    return groups
