"""Run the chaos load: ``python -m chaos [--duration 240] [--workers 3] [--fault-every 40]``.

Exit status 1 when any answer was wrong or the data check found a difference.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx

from testsupport import flows
from testsupport.stack import RESOURCE_A, StackOptions, running_stack

from .faults import Faults
from .gate import Gate
from .ledger import Ledger
from .load import Worker
from .report import data_check, render

# The load comes from one address: per-address limits would turn it into a rate-limit test.
ISSUER_ENV = {
    "REGISTER_RATE_PER_MINUTE": "0",
    "TOKEN_RATE_PER_MINUTE": "0",
    "MAX_REGISTRATIONS_PER_HOUR": "0",
    "LOG_LEVEL": "WARNING",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--duration", type=float, default=240, help="seconds of load")
    parser.add_argument("--workers", type=int, default=3, help="load threads")
    parser.add_argument("--fault-every", type=float, default=40, help="seconds between faults")
    parser.add_argument("--down", type=float, default=5, help="seconds a killed process stays down")
    parser.add_argument(
        "--think", type=float, default=0.03, help="pause between a worker's requests"
    )
    parser.add_argument("--dir", type=Path, help="keep the processes' logs here")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="authgate-chaos-"))
    options = StackOptions(appendonly=True, issuer_env=ISSUER_ENV)
    print(f"starting Redis (AOF), GitHub stand-in, issuer and verifier in {directory}", flush=True)
    with running_stack(directory, options) as stack, httpx.Client(timeout=10) as http:
        probe_client = flows.register(http, stack.issuer_url)
        probe = flows.login(http, stack.issuer_url, probe_client, resources=[RESOURCE_A])
        origin = time.monotonic()

        def clock() -> float:
            return time.monotonic() - origin

        ledger, gate = Ledger(), Gate()
        faults = Faults(stack, gate, clock, probe["access_token"])
        workers = [Worker(stack, ledger, gate, clock, seed) for seed in range(args.workers)]
        threads = [
            threading.Thread(target=w.run, args=(args.duration, args.think), daemon=True)
            for w in workers
        ]
        for thread in threads:
            thread.start()
        next_fault, kind = args.fault_every, 0
        while next_fault + args.down + 15 < args.duration:
            time.sleep(max(0.0, next_fault - clock()))
            crash = faults.redis_crash if kind % 2 == 0 else faults.verifier_crash
            record = crash(args.down)
            print(
                f"  t={record.at:6.1f}s {record.kind}: recovered in {record.recovery:.2f}s",
                flush=True,
            )
            next_fault, kind = next_fault + args.fault_every, kind + 1
        for thread in threads:
            thread.join()
        ledger.judge(faults.windows)
        final = data_check(stack, [w.owned for w in workers])
        print()
        print(render(args.duration, args.workers, ledger, faults.records, final))
        differs = any(r.data and "DIFFERENT" in r.data for r in faults.records)
        broken = any("WRONG" in what for what in final)
        return 1 if sum(ledger.wrong.values()) or differs or broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
