"""Loading and choosing the active policy."""

from __future__ import annotations

import time

from django.db import transaction
from django.dispatch import Signal

from .config import PolicyConfig
from .models import Policy
from .presets import preset_check, preset_text

# Sent inside the loading transaction with the preset's data: other apps store the parts
# they own (cases: the category tree). A receiver that raises rolls the whole load back.
preset_loaded = Signal()

DEFAULT_PRESET = "tobacco"

_config_cache: dict[int, PolicyConfig] = {}


def policy_load_preset(name: str = DEFAULT_PRESET, *, activate: bool = True, text: str | None = None) -> Policy:
    """Store preset `name` (or the given YAML `text`) as a new policy version, unless the
    latest version is identical, and make it the organisation's active policy.

    Idempotent: loading the same file twice makes one version. A file with an error raises
    PresetError(line, reason) and nothing is stored.
    """
    config = preset_check(text if text is not None else preset_text(name))
    name = config["name"]
    with transaction.atomic():
        latest = Policy.objects.filter(name=name).order_by("-version").first()
        if latest is not None and latest.config == config:
            policy = latest
        else:
            policy = Policy.objects.create(
                name=name,
                version=(latest.version + 1) if latest else 1,
                title=config.get("title", name),
                config=config,
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
