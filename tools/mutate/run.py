"""One module's mutation run with cosmic-ray, and its tally.

cosmic-ray writes each mutant into the source file itself (the tests start the issuer and the
verifier as subprocesses from the editable installs, which only see a mutant on disk) and
restores the file after each test run. The driver refuses a file with uncommitted changes (a
mutation run must never bake someone's edit, or a mutant, into the result) and checks, after the
run, that the file is byte for byte what it was, restoring it if not.
"""

from __future__ import annotations

import ast
import hashlib
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cosmic_ray.mutating import mutate_code
from cosmic_ray.plugins import get_operator
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

from .config import ROOT, Equivalent, Module

BIN = Path(sys.executable).parent
STATE = ROOT / ".run" / "mutate"


@dataclass
class Survivor:
    line: int
    operator: str
    diff: str


@dataclass
class Tally:
    module: str
    path: str
    mutants: int = 0
    killed: int = 0
    equivalent: int = 0
    survivors: list[Survivor] = field(default_factory=list)
    pending: int = 0
    errors: int = 0
    """Mutants cosmic-ray could not apply or run (neither killed nor survived)."""

    @property
    def score(self) -> float:
        """Killed share of the mutants that are not equivalent (and have run)."""
        judged = self.killed + len(self.survivors)
        return 100.0 * self.killed / judged if judged else 100.0


class DirtySource(Exception):
    pass


def refuse_dirty(path: str) -> None:
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if status.strip():
        raise DirtySource(
            f"{path} has uncommitted changes ({status.strip()}): commit or revert them first;"
            " a mutation run rewrites the file and must start from the committed text"
        )


def _config(module: Module, config_file: Path) -> None:
    pytest = [
        "nice", "-n", "19", str(BIN / "pytest"), "-x", "-q", "-p", "no:randomly",
        "-p", "no:cacheprovider", "--timeout", str(int(module.timeout)), *module.tests,
    ]  # fmt: skip
    excluded = ", ".join(f'"{e}"' for e in module.exclude_operators)
    config_file.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{module.path}"\n'
        f"timeout = {module.timeout}\n"
        "excluded-modules = []\n"
        f"test-command = {shlex.join(pytest)!r}\n"
        '[cosmic-ray.distributor]\nname = "local"\n'
        f"[cosmic-ray.filters.operators-filter]\nexclude-operators = [{excluded}]\n"
    )


def baseline(module: Module) -> None:
    """The selected tests must pass on the unmutated source, or every mutant looks killed."""
    result = subprocess.run(
        [str(BIN / "pytest"), "-x", "-q", "-p", "no:randomly", *module.tests],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{module.name}: the selected tests fail unmutated:\n{result.stdout}")


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the annotations are, when the module never evaluates them (PEP 563)."""
    tree = ast.parse(source)
    lazy = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )
    if not lazy:
        return []
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            found.append(node.returns)
    return [
        ((a.lineno, a.col_offset), (a.end_lineno or a.lineno, a.end_col_offset or 0)) for a in found
    ]


def _mark(db: WorkDB, job_id: str, reason: str) -> None:
    db.set_result(
        job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=f"equivalent: {reason}")
    )


def _mutated_line(source: str, operator: str, occurrence: int, row: int) -> str:
    mutated = mutate_code(source, get_operator(operator)(), occurrence)
    return mutated.splitlines()[row - 1].strip() if mutated else ""


def _mark_equivalents(db: WorkDB, module: Module, equivalents: list[Equivalent]) -> None:
    source = (ROOT / module.path).read_text()
    lines = source.splitlines()
    annotations = _annotation_spans(source)
    for item in db.pending_work_items:  # not those of the excluded operators
        m = item.mutations[0]
        if any(start <= tuple(m.start_pos) < end for start, end in annotations):
            _mark(db, item.job_id, "in a type annotation, which the module never evaluates")
            continue
        text = lines[m.start_pos[0] - 1]
        for eq in equivalents:
            if not eq.matches(module.name, m.operator_name, text):
                continue
            if eq.mutant is None or eq.mutant == _mutated_line(
                source, m.operator_name, m.occurrence, m.start_pos[0]
            ):
                _mark(db, item.job_id, eq.reason)
                break


Key = tuple[str, int]


def _killed_before(session: Path, digest: Path, source: bytes) -> dict[Key, WorkResult]:
    """The kills of the last session of this module, when its source is the same text (added
    tests cannot revive a killed mutant, so only the others need running again)."""
    if not session.exists() or not digest.exists():
        return {}
    if digest.read_text() != hashlib.sha256(source).hexdigest():
        return {}
    kept = {}
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, res in db.completed_work_items:
            m = item.mutations[0]
            if res.test_outcome in (TestOutcome.KILLED, TestOutcome.INCOMPETENT):
                kept[(m.operator_name, m.occurrence)] = res
    return kept


def run(
    module: Module,
    equivalents: list[Equivalent],
    *,
    resume: bool = False,
    keep_killed: bool = False,
) -> Tally:
    refuse_dirty(module.path)
    source = ROOT / module.path
    original = source.read_bytes()
    STATE.mkdir(parents=True, exist_ok=True)
    config_file = STATE / f"{module.name}.toml"
    session = STATE / f"{module.name}.sqlite"
    digest = STATE / f"{module.name}.sha256"
    _config(module, config_file)
    cosmic = str(BIN / "cosmic-ray")
    try:
        if not (resume and session.exists()):
            baseline(module)
            killed = _killed_before(session, digest, original) if keep_killed else {}
            session.unlink(missing_ok=True)
            digest.write_text(hashlib.sha256(original).hexdigest())
            subprocess.run([cosmic, "init", str(config_file), str(session)], cwd=ROOT, check=True)
            subprocess.run(
                [str(BIN / "cr-filter-operators"), str(session), str(config_file)],
                cwd=ROOT,
                check=True,
            )
            with use_db(str(session), WorkDB.Mode.open) as db:
                _mark_equivalents(db, module, equivalents)
                for item in list(db.pending_work_items):
                    m = item.mutations[0]
                    if (m.operator_name, m.occurrence) in killed:
                        db.set_result(item.job_id, killed[(m.operator_name, m.occurrence)])
        subprocess.run([cosmic, "exec", str(config_file), str(session)], cwd=ROOT, check=True)
    finally:
        if source.read_bytes() != original:
            source.write_bytes(original)
            print(f"!! {module.path} was left mutated; restored", file=sys.stderr)
    return tally(module, session)


def tally(module: Module, session: Path) -> Tally:
    result = Tally(module.name, module.path)
    with use_db(str(session), WorkDB.Mode.open) as db:
        done = {item.job_id: res for item, res in db.completed_work_items}
        for item in db.work_items:
            res = done.get(item.job_id)
            m = item.mutations[0]
            if res is not None and res.worker_outcome == WorkerOutcome.SKIPPED:
                if (res.output or "").startswith("equivalent:"):
                    result.mutants += 1
                    result.equivalent += 1
                continue  # an excluded operator: not a mutant of this run
            result.mutants += 1
            if res is None:
                result.pending += 1
            elif res.test_outcome == TestOutcome.SURVIVED:
                result.survivors.append(Survivor(m.start_pos[0], m.operator_name, res.diff or ""))
            elif res.test_outcome in (TestOutcome.KILLED, TestOutcome.INCOMPETENT):
                result.killed += 1
            else:
                result.errors += 1
    result.survivors.sort(key=lambda s: (s.line, s.operator))
    return result
