"""Top lines of a ``py-spy record --format raw`` profile: where the samples went.

    python -m bench.profile_summary PROFILE.txt [--top 20]

A raw profile has one line per distinct stack: ``frame;frame;...;frame COUNT``
(the first frame is the thread when recorded with ``--threads``). The summary
counts samples by innermost frame (self) and by every frame on the stack
(cumulative), over all threads. Recorded without ``--idle``, every sample is
a thread on the CPU (or holding the GIL); leaves that only wait on a socket, a
lock or a sleep are counted apart as idle anyway.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

IDLE_LEAVES = re.compile(
    r"^\s*(wait|_wait_for_tstate_lock|select|poll|sleep|acquire|recv_into|"
    r"SyncStream\.read|_worker|accept) \("
)


@dataclass
class Profile:
    """Samples per stack, with their self and cumulative tallies."""

    total: int = 0
    busy: int = 0
    self_busy: Counter[str] = field(default_factory=Counter)
    cumulative_busy: Counter[str] = field(default_factory=Counter)
    threads: Counter[str] = field(default_factory=Counter)


def _frame_name(frame: str) -> str:
    """``fn (module/path.py:123)`` -> ``fn (path.py)``: lines would split one function."""
    match = re.match(r"(.*) \((.*?):\d+\)$", frame.strip())
    if not match:
        return frame.strip()
    name, path = match.groups()
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) >= 2 else path
    return f"{name} ({short})"


def read_profile(path: Path) -> Profile:
    """Tally a raw py-spy profile."""
    profile = Profile()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        profile.total += count
        leaf = frames[-1]
        if IDLE_LEAVES.search(leaf):
            continue
        profile.busy += count
        thread = frames[0].split(" ")[0] if frames[0].startswith("thread") else "?"
        profile.threads[thread] += count
        names = [_frame_name(frame) for frame in frames[1:]]
        if names:
            profile.self_busy[names[-1]] += count
        for name in set(names):
            profile.cumulative_busy[name] += count
    return profile


def summary_lines(profile: Profile, top: int = 20) -> list[str]:
    """The summary as text lines (for a closing note or a results file)."""
    lines = [
        f"samples: {profile.total:,} (busy {profile.busy:,}, "
        f"{100 * profile.busy / max(profile.total, 1):.0f}%)",
        "",
        f"top {top} by self time (share of busy samples):",
    ]
    for name, count in profile.self_busy.most_common(top):
        lines.append(f"  {100 * count / max(profile.busy, 1):5.1f}%  {name}")
    lines += ["", f"top {top} cumulative (share of busy samples):"]
    for name, count in profile.cumulative_busy.most_common(top):
        lines.append(f"  {100 * count / max(profile.busy, 1):5.1f}%  {name}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    sys.stdout.write("\n".join(summary_lines(read_profile(args.profile), args.top)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
