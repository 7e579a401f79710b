"""Loading and choosing the active policy."""

from __future__ import annotations

from django.db import transaction

from .config import PolicyConfig, load_preset_file
from .models import Policy

DEFAULT_PRESET = "tobacco"

_config_cache: dict[int, PolicyConfig] = {}


def policy_load_preset(name: str = DEFAULT_PRESET, *, activate: bool = True) -> Policy:
    """Store preset `name` as a new policy version, unless the latest version is identical.

    Idempotent: loading the same file twice makes one version.
    """
    config = load_preset_file(name)
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
    return policy


def active_policy() -> Policy:
    policy = Policy.objects.filter(active=True).first()
    if policy is None:
        policy = policy_load_preset(DEFAULT_PRESET)
    return policy


def config_for(policy_id: int) -> PolicyConfig:
    """The parsed configuration of a policy version (versions are immutable, so cached)."""
    cfg = _config_cache.get(policy_id)
    if cfg is None:
        cfg = PolicyConfig(Policy.objects.get(pk=policy_id).config)
        _config_cache[policy_id] = cfg
    return cfg
