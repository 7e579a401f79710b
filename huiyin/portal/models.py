"""The portal's own rows: how a complainant reaches a case (the query code's hash), and the
table of the cache every web worker shares (rate-limit counters, challenges)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PortalAccess(models.Model):
    """The key to one case on the portal: the SHA-256 of its query code (查询码, ≥ 112 bits of
    entropy, shown once, never stored), and the privacy notice the complainant accepted."""

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="portal_access")
    code_hash = models.CharField(max_length=64, unique=True)
    privacy_notice_version = models.CharField(_("隐私声明版本"), max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # A member of staff issued a new code (the complainant lost it; a letter's sender asked for one).
    reissued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("查询码")
        verbose_name_plural = _("查询码")

    def __str__(self) -> str:
        return f"query code of case {self.case_id}"


class SharedCacheEntry(models.Model):
    """The table of `SharedDatabaseCache` (the columns Django's database cache expects), made by
    a migration so that `migrate` is all an installation needs."""

    cache_key = models.CharField(max_length=255, primary_key=True)
    value = models.TextField()
    expires = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "huiyin_shared_cache"
        managed = True

    def __str__(self) -> str:
        return self.cache_key
