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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

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


class Supervisor:
    def __init__(self, width: int = 9) -> None:
        self.children: list[Child] = []
        self.width = width
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
        for raw in child.process.stdout:
            self.say(child.name, raw.decode(errors="replace").rstrip())

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
                raise RuntimeError(f"{child.name} exited with {child.process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{child.name} was not ready after {timeout:.0f}s")
            time.sleep(0.2)

    def wait(self) -> int:
        """Block until a signal asks to stop (0) or a child dies on its own (1)."""
        while not self.stopping.is_set():
            for child in self.children:
                if child.process is not None and child.process.poll() is not None:
                    self.say(child.name, f"exited with {child.process.returncode}; stopping")
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
