"""``python -m bench``: run every benchmark module in turn (each records its own figures).

``python -m bench compare [...]`` runs the side-by-side comparison instead
(``bench/compare.py``; ``--help`` lists its options); ``python -m bench soak [...]``
the soak and chaos run (``bench/soak.py``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = ["bench.sim_generation", "bench.models", "bench.extraction"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["compare"]:
        from bench.compare import main as compare

        return compare(argv[1:])
    if argv[:1] == ["soak"]:
        from bench.soak import main as soak

        return soak(argv[1:])
    root = Path(__file__).resolve().parent.parent
    failed = 0
    for module in BENCHMARKS:
        sys.stdout.write(f"== {module}\n")
        sys.stdout.flush()
        failed += (
            subprocess.run([sys.executable, "-m", module], cwd=root, check=False).returncode != 0
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
