"""Run several child processes in the foreground with prefixed logs and one clean shutdown.

Children get their own session, so a Ctrl-C in the terminal reaches only this supervisor, which
then stops them in reverse start order (SIGTERM, then SIGKILL after a grace period) instead of
each child printing its own KeyboardInterrupt traceback.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TAIL_LINES = 20
COLOURS = ("36", "33", "35", "32", "34", "31")
PR_SET_PDEATHSIG = 1
# Looked up once in the parent: the child, between fork and exec, only makes the call.
_PRCTL = getattr(ctypes.CDLL(None), "prctl", None) if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the supervisor dies, even by SIGKILL, so no
    service outlives it holding its port (Linux; elsewhere the clean path is the only one)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    args: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    ready: Callable[[], bool] | None = None
    process: subprocess.Popen[bytes] | None = None
    quiet: bool = False
    """Its output goes to its log file only (unless verbose); the tail is shown if it fails."""


class Supervisor:
    def __init__(self, width: int = 9, *, verbose: bool = True, log_dir: Path | None = None) -> None:
        self.children: list[Child] = []
        self.width = width
        self.verbose = verbose
        self.log_dir = log_dir
        self._tails: dict[str, deque[str]] = {}
        self.stopping = threading.Event()
        self.signal_name = "stop requested"
        self._print_lock = threading.Lock()
        self._colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ

    def say(self, name: str, line: str) -> None:
        prefix = f"{name:<{self.width}}|"
        if self._colour:
            names = [c.name for c in self.children]
            code = COLOURS[names.index(name) % len(COLOURS)] if name in names else "1"
            prefix = f"\033[{code}m{prefix}\033[0m"
        with self._print_lock:
            print(f"{prefix} {line}", flush=True)

    def _pump(self, child: Child) -> None:
        assert child.process is not None and child.process.stdout is not None
        tail = self._tails.setdefault(child.name, deque(maxlen=TAIL_LINES))
        quiet = child.quiet and not self.verbose and self.log_dir is not None
        log = None
        if quiet:
            assert self.log_dir is not None
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = open(self.log_dir / f"{child.name}.log", "a")  # noqa: SIM115 - the pump's
        for raw in child.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            tail.append(line)
            if log is None:
                self.say(child.name, line)
            else:
                log.write(line + "\n")
                log.flush()
        if log is not None:
            log.close()

    def failed(self, child: Child, message: str) -> str:
        """``message`` with the last lines of a quiet child's output, which were not shown."""
        if not child.quiet or self.verbose:
            return message
        lines = "\n".join(f"    {line}" for line in self._tails.get(child.name, ()))
        return f"{message}; its last output:\n{lines}" if lines else message

    def start(self, child: Child, timeout: float = 60.0) -> None:
        """Start ``child`` and wait until its ``ready`` check passes (or it dies)."""
        self.children.append(child)
        child.process = subprocess.Popen(
            list(child.args),
            env={**os.environ, **child.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        threading.Thread(target=self._pump, args=(child,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while child.ready is not None and not child.ready():
            if child.process.poll() is not None or self.stopping.is_set():
                time.sleep(0.2)  # let the pump read the last lines
                message = f"{child.name} exited with {child.process.returncode}"
                raise RuntimeError(self.failed(child, message))
            if time.monotonic() > deadline:
                raise RuntimeError(f"{child.name} was not ready after {timeout:.0f}s")
            time.sleep(0.2)

    def wait(self) -> int:
        """Block until a signal asks to stop (0) or a child dies on its own (1)."""
        while not self.stopping.is_set():
            for child in self.children:
                if child.process is not None and child.process.poll() is not None:
                    message = f"exited with {child.process.returncode}; stopping"
                    self.say(child.name, self.failed(child, message))
                    return 1
            self.stopping.wait(0.5)
        self.say("devstack", f"{self.signal_name}: stopping everything")
        return 0

    def stop(self, grace: float = 10.0) -> None:
        self.stopping.set()
        for child in reversed(self.children):
            process = child.process
            if process is None or process.poll() is not None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.say(child.name, "did not stop in time; killing")
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def install_signal_handlers(self) -> None:
        # The handler runs in the main thread between two bytecodes, possibly inside say()
        # holding the print lock: it only records the signal; wait() reports it.
        def request_stop(signum: int, _frame: object) -> None:
            self.signal_name = signal.Signals(signum).name
            self.stopping.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
