"""``python -m tools.mutate [MODULE ...]``: mutation-test the security-critical modules.

Runs in place (see run.py): use a clone of the repository of your own, never a work tree in which
someone else runs tests at the same time.
"""

from __future__ import annotations

import argparse
import sys

from .config import load_equivalents, load_modules
from .run import STATE, DirtySource, Tally, run, tally


def _print(t: Tally) -> None:
    print(f"\n== {t.module} ({t.path})")
    print(
        f"mutants {t.mutants}  killed {t.killed}  survived {len(t.survivors)}"
        f"  equivalent {t.equivalent}  score {t.score:.1f} % (excluding equivalents)"
        + (f"  NOT RUN {t.pending}" if t.pending else "")
        + (f"  ERRORS {t.errors}" if t.errors else "")
    )
    for s in t.survivors:
        print(f"-- survived: {t.path}:{s.line} {s.operator}")
        print(
            "\n".join(
                "   " + line
                for line in s.diff.splitlines()
                if line[:1] in "+-" and line[:3] not in ("+++", "---")
            )
        )


def main() -> int:
    modules = load_modules()
    parser = argparse.ArgumentParser(prog="python -m tools.mutate", description=__doc__)
    parser.add_argument("modules", nargs="*", help=f"of: {', '.join(modules)} (default: all)")
    parser.add_argument("--resume", action="store_true", help="go on with an unfinished session")
    parser.add_argument(
        "--keep-killed",
        action="store_true",
        help="run only the mutants the last session did not kill (same source text, tests added)",
    )
    parser.add_argument("--report", action="store_true", help="print the last sessions' results")
    parser.add_argument("--target", type=float, default=90.0, help="minimum score, percent")
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in modules]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(modules)}")
    equivalents = load_equivalents()
    known = {(e.module) for e in equivalents}
    if known - set(modules):
        parser.error(f"equivalents.toml names unknown modules: {', '.join(known - set(modules))}")
    results = []
    for name in args.modules or list(modules):
        try:
            if args.report:
                t = tally(modules[name], STATE / f"{name}.sqlite")
            else:
                t = run(
                    modules[name], equivalents, resume=args.resume, keep_killed=args.keep_killed
                )
        except DirtySource as exc:
            print(f"refusing to mutate: {exc}", file=sys.stderr)
            return 2
        _print(t)
        results.append(t)
    print("\n| module | mutants | killed | survived | equivalent | score |")
    print("|---|---|---|---|---|---|")
    for t in results:
        print(
            f"| `{t.path}` | {t.mutants} | {t.killed} | {len(t.survivors)} | {t.equivalent}"
            f" | {t.score:.1f} % |"
        )
    below = [t.module for t in results if t.score < args.target or t.pending or t.errors]
    if below:
        print(f"\nbelow {args.target:.0f} % or incomplete: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
