"""Reading ``POLICY_FILE`` at start-up (the only file read for the policy; never at runtime).

YAML through ``yaml.safe_load`` (no tags, no object construction). Every problem, the file's
and the schema's, joins the settings' problems so start-up names all of them at once.
"""

from __future__ import annotations

import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the pins

from .config import EnvReader
from .policy import Policy, parse_policy
from .services import ServiceList

POLICY_FILE = "POLICY_FILE"
MAX_POLICY_BYTES = 4 * 1024 * 1024


def policy_from_env(env: EnvReader, path: str | None, allowed: ServiceList) -> Policy | None:
    """The policy at ``path`` (``env.raw("POLICY_FILE")``, read by the settings so each lists
    what it reads), or None when unset or unreadable. Problems are added to ``env`` (the
    settings then stop at ``env.check()``; the policy returned with them is partial)."""
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_POLICY_BYTES + 1)
    except OSError as exc:
        env.problems.append(f"{POLICY_FILE}: cannot read {path}: {exc.strerror}")
        return None
    if len(raw) > MAX_POLICY_BYTES:
        env.problems.append(f"{POLICY_FILE}: {path} is larger than {MAX_POLICY_BYTES} bytes")
        return None
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        env.problems.append(f"{POLICY_FILE}: {path} is not valid YAML: {exc}")
        return None
    policy, problems = parse_policy(
        document, source=f"{POLICY_FILE} {path}", allowed=allowed if allowed else None
    )
    env.problems.extend(problems)
    return policy
