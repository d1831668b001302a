"""``python -m bench`` (``make bench``): every benchmark section, one after the other."""

from __future__ import annotations

import argparse
from functools import partial

from . import data_scale, gateway, issuer, verifier
from .common import workdir, wrk_path

SECTIONS = {"verifier": verifier.run, "gateway": gateway.run, "issuer": issuer.run}
# Only when named: fills Redis with millions of records (minutes, GBs of RAM).
ON_REQUEST = {"data-scale": data_scale.run}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "sections",
        nargs="*",
        help=f"some of: {', '.join(SECTIONS)} (default: all of them); "
        f"only when named: {', '.join(ON_REQUEST)}",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per case")
    parser.add_argument(
        "--shared-cores",
        action="store_true",
        help="verifier section: run the servers on the same CPUs as wrk and Redis "
        "(default: a CPU of their own, see bench/cores.py)",
    )
    args = parser.parse_args()
    wrk_path()
    print("Figures depend on the machine and its load; compare ratios, not absolute numbers.")
    unknown = set(args.sections) - set(SECTIONS) - set(ON_REQUEST)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    runners = {**SECTIONS, **ON_REQUEST}
    runners["verifier"] = partial(verifier.run, shared_cores=args.shared_cores)
    for name in args.sections or SECTIONS:
        runners[name](workdir(), args.duration)


if __name__ == "__main__":
    main()
