"""The per-module configuration (modules.toml) and the equivalent mutants (equivalents.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


@dataclass(frozen=True)
class Module:
    name: str
    path: str
    """The source file, relative to the repository root."""
    tests: tuple[str, ...]
    """pytest arguments (files, ``-k`` expressions) selecting the tests that exercise it."""
    timeout: float
    """Seconds one test run may take before the mutant counts as killed (a hang)."""
    exclude_operators: tuple[str, ...]


@dataclass(frozen=True)
class Equivalent:
    """A mutant that cannot change behaviour, identified without line numbers: the module, the
    operator, the line's stripped text and, where the operator has several mutants on that line,
    the mutated line's stripped text (``mutant``; absent = every mutant of the operator there)."""

    module: str
    operator: str
    line: str
    reason: str
    mutant: str | None = None

    def matches(self, module: str, operator: str, line: str) -> bool:
        return self.module == module and self.operator == operator and self.line == line.strip()


def load_modules(path: Path = HERE / "modules.toml") -> dict[str, Module]:
    data = tomllib.loads(path.read_text())
    defaults = data.get("defaults", {})
    modules = {}
    for name, entry in data["modules"].items():
        modules[name] = Module(
            name=name,
            path=entry["path"],
            tests=tuple(entry["tests"]),
            timeout=float(entry.get("timeout", defaults.get("timeout", 60))),
            exclude_operators=tuple(
                entry.get("exclude-operators", defaults.get("exclude-operators", []))
            ),
        )
    return modules


def load_equivalents(path: Path = HERE / "equivalents.toml") -> list[Equivalent]:
    data = tomllib.loads(path.read_text())
    found = []
    for entry in data.get("equivalent", []):
        if not entry.get("reason"):
            raise ValueError(f"equivalent mutant without a reason: {entry}")
        found.append(
            Equivalent(
                module=entry["module"],
                operator=entry["operator"],
                line=entry["line"].strip(),
                reason=entry["reason"],
                mutant=entry["mutant"].strip() if "mutant" in entry else None,
            )
        )
    return found
