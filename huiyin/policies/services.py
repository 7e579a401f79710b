"""Loading and choosing the active policy."""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction
from django.dispatch import Signal

from .config import PolicyConfig
from .models import Policy
from .presets import PresetError, preset_check, preset_text

# Sent inside the loading transaction with the preset's data: other apps store the parts
# they own (cases: the category tree). A receiver that raises rolls the whole load back.
preset_loaded = Signal()

DEFAULT_PRESET = "tobacco"

_config_cache: dict[int, PolicyConfig] = {}


class PolicyEdited(ValueError):
    """Loading a shipped preset over the organisation's own edits of it: what differs, so nothing
    is overwritten silently (load again with force to replace them by a new version)."""

    def __init__(self, policy: Policy, differences: list[str]):
        self.policy, self.differences = policy, differences
        super().__init__(
            f"{policy.name} v{policy.version} holds the organisation's own edits ({policy.origin}); the shipped "
            f"preset differs in: " + "; ".join(differences)
        )


def config_diff(old: Any, new: Any, path: str = "") -> list[str]:
    """What differs between two policy configurations, one line per changed value: `key.path:
    old → new`, `+key.path` (added), `-key.path` (removed). Lists of named items (rules by name,
    categories and obligations by code) are compared item by item."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in list(old) + [k for k in new if k not in old]:
            p = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append(f"-{p}")
            elif key not in old:
                out.append(f"+{p}")
            else:
                out += config_diff(old[key], new[key], p)
        return out
    if isinstance(old, list) and isinstance(new, list) and all(
        isinstance(x, dict) and ("name" in x or "code" in x) for x in old + new
    ):
        def key_of(x: dict[str, Any]) -> str:
            return str(x.get("code", x.get("name")))

        before, after = {key_of(x): x for x in old}, {key_of(x): x for x in new}
        return config_diff(before, after, path)
    if old != new:
        return [f"{path}: {_short(old)} → {_short(new)}"]
    return []


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def policy_load_preset(name: str = DEFAULT_PRESET, *, activate: bool = True, text: str | None = None,
                       origin: str = "preset", force: bool = False) -> Policy:
    """Store preset `name` (or the given YAML `text`) as a new policy version, unless the
    latest version is identical, and make it the organisation's active policy.

    Idempotent: loading the same file twice makes one version. A file with an error raises
    PresetError(line, reason) and nothing is stored; so does a file whose `name:` is not `name`.
    Loading the shipped preset (`origin="preset"`) over a version the organisation edited (in the
    admin pages, or loaded from its own file) raises PolicyEdited with what differs, unless
    `force`: the organisation's edits are never overwritten silently. Open cases keep the
    version they were opened under.
    """
    raw = text if text is not None else preset_text(name)
    config = preset_check(raw)
    if config["name"] != name:
        line = next((i for i, s in enumerate(raw.splitlines(), 1) if s.startswith("name:")), 1)
        raise PresetError(line, f"the file's name is {config['name']!r}, not {name!r}: load it under its own name")
    with transaction.atomic():
        latest = Policy.objects.filter(name=name).order_by("-version").first()
        if latest is not None and latest.config == config:
            policy = latest
        else:
            if latest is not None and origin == "preset" and latest.origin != "preset" and not force:
                raise PolicyEdited(latest, config_diff(latest.config, config))
            policy = Policy.objects.create(
                name=name,
                version=(latest.version + 1) if latest else 1,
                title=config.get("title", name),
                config=config,
                origin=origin,
            )
        if activate and not policy.active:
            Policy.objects.filter(active=True).update(active=False)
            policy.active = True
            policy.save(update_fields=["active"])
        if activate:
            preset_loaded.send(sender=Policy, policy=policy, data=config)
            _active.clear()
            transaction.on_commit(_active.clear)
    return policy


_active: list[tuple[float, Policy]] = []
ACTIVE_CACHE_SECONDS = 5.0


def active_policy() -> Policy:
    """The organisation's active policy. Cached for a few seconds per process: a preset loaded
    in this process applies at once, one loaded elsewhere within ACTIVE_CACHE_SECONDS."""
    now = time.monotonic()
    if _active and _active[0][0] > now:
        return _active[0][1]
    policy = Policy.objects.filter(active=True).first()
    if policy is None:
        policy = policy_load_preset(DEFAULT_PRESET)
    _active[:] = [(now + ACTIVE_CACHE_SECONDS, policy)]
    return policy


def config_for(policy_id: int) -> PolicyConfig:
    """The parsed configuration of a policy version (versions are immutable, so cached)."""
    cfg = _config_cache.get(policy_id)
    if cfg is None:
        cfg = PolicyConfig(Policy.objects.get(pk=policy_id).config)
        _config_cache[policy_id] = cfg
    return cfg


def clear_cache() -> None:
    """Forget parsed policies (tests: ids are reused after a database flush)."""
    _config_cache.clear()
    _active.clear()
