"""The organisation tree, users and their roles per unit (DESIGN §1)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from .fields import SealedTextField


class UnitKind(models.TextChoices):
    GROUP = "group", _("集团")
    PROVINCE = "province", _("省/分公司")
    CITY = "city", _("市局/市公司")
    COUNTY = "county", _("县局/网点")
    CENTRE = "centre", _("中心")
    DEPARTMENT = "department", _("部门")


class Unit(models.Model):
    """A node of the organisation tree, of any depth.

    `path` is a materialised path of ids ("/1/4/9/") so a subtree is one indexed
    `path__startswith` query; it is maintained by `save()` and never edited by hand.
    """

    code = models.SlugField(_("代码"), max_length=64, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=UnitKind.choices, default=UnitKind.COUNTY)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级单位"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    active = models.BooleanField(_("启用"), default=True)
    # How many customers the unit serves (a project's households, an outlet's retailers), for
    # rules on a share of them (e.g. "50% of a site's customers complain").
    customers = models.PositiveIntegerField(_("客户数"), null=True, blank=True)

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        parent_path = self.parent.path if self.parent is not None else "/"
        new_path = f"{parent_path}{self.pk}/"
        if new_path != self.path:
            moved = bool(self.path)
            self.path, self.depth = new_path, new_path.count("/") - 2
            Unit.objects.filter(pk=self.pk).update(path=self.path, depth=self.depth)
            if moved:
                for child in self.children.all():
                    child.save()

    def clean(self) -> None:
        if self.pk and self.parent is not None and self.parent.path.startswith(self.path or "-"):
            raise ValidationError({"parent": _("上级单位不能是本单位或其下级")})

    def is_within(self, other: Unit) -> bool:
        """True when this unit is `other` or below it."""
        return self.path.startswith(other.path)

    def ancestors(self) -> list[Unit]:
        ids = [int(p) for p in self.path.strip("/").split("/") if p]
        by_id = Unit.objects.in_bulk(ids)
        return [by_id[i] for i in ids if i in by_id]


class User(AbstractUser):
    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    phone = models.CharField(_("手机"), max_length=20, blank=True)
    # Raised to end every session and API token of the user at once (an administrator's "sign
    # out everywhere", disabling the account): it is part of the session hash, as the password is.
    session_epoch = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """Sessions (and API tokens, huiyin.api.auth) hold this HMAC: a new password, however it
        was set, or a new session epoch makes every earlier one invalid."""
        return salted_hmac("huiyin.org.User.session", f"{self.password}\x00{self.session_epoch}", secret=secret,
                           algorithm="sha256").hexdigest()


class Role(models.TextChoices):
    AGENT = "agent", _("受理员")
    DISPATCHER = "dispatcher", _("派单员")
    HANDLER = "handler", _("处理人")
    FIRST_RESPONSIBLE = "first_responsible", _("第一责任人")
    LEADER = "leader", _("分管领导")
    SUPERVISOR = "supervisor", _("督办")
    AUDITOR = "auditor", _("审计")
    ADMIN = "admin", _("管理员")


class Membership(models.Model):
    """One role of one user in one unit; the role reaches the unit's whole subtree."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)

    class Meta:
        verbose_name = _("岗位")
        verbose_name_plural = _("岗位")
        constraints = [
            models.UniqueConstraint(fields=["user", "unit", "role"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.unit} · {self.get_role_display()}"


class ApiToken(models.Model):
    """A bearer token for the REST API. Only its SHA-256 is stored.

    A token is valid until it expires, is revoked (by its holder, an administrator, or with the
    user's disabling), or its user's password or session epoch changes: `user_mark` holds the
    user's session hash when it was issued, and a token whose mark no longer matches is dead,
    however the password was changed (pages, admin, command line, SQL)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    user_mark = models.CharField(max_length=64, default="", editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=30, blank=True)

    class Meta:
        verbose_name = _("接口令牌")
        verbose_name_plural = _("接口令牌")

    def __str__(self) -> str:
        return f"{self.name or 'token'} of user {self.user_id}"


class AuditEntry(models.Model):
    """Audit log (DESIGN §8): logins, permission and configuration changes, exports.
    Append-only; never holds secrets or complainants' personal data."""

    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    # DO_NOTHING: the log outlives its actors (users are disabled, not deleted) and a trigger
    # refuses to change its rows on PostgreSQL; the name stays readable either way.
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+",
                              verbose_name=_("操作人"), db_constraint=False)
    actor_name = models.CharField(_("操作人账号"), max_length=150, blank=True)
    action = models.CharField(_("操作"), max_length=50)
    target = models.CharField(_("对象"), max_length=200, blank=True)
    details = models.JSONField(_("详情"), default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target}"


class DutyShift(models.Model):
    """值班: who is on duty for a unit from when to when (a duty leader, the evening's
    dispatcher). A notification route with `duty: true` goes to the people its roles name who
    are on duty now for a unit in the case's line; with nobody on duty it falls back to all
    of them, so a route never goes to no one (`cases.notifications`)."""

    unit = models.ForeignKey(Unit, verbose_name=_("单位"), on_delete=models.CASCADE, related_name="duty_shifts")
    user = models.ForeignKey(User, verbose_name=_("值班人"), on_delete=models.CASCADE, related_name="duty_shifts")
    starts_at = models.DateTimeField(_("开始"))
    ends_at = models.DateTimeField(_("结束"))
    note = models.CharField(_("备注"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("值班安排")
        verbose_name_plural = _("值班安排")
        indexes = [models.Index(fields=["unit", "ends_at"], name="org_duty_unit_ends")]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="duty_shift_ends_after"),
        ]

    def __str__(self) -> str:
        return f"{self.unit} · {self.user} · {self.starts_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("结束时间须晚于开始时间。")})


class TotpDevice(models.Model):
    """A user's authenticator app (TOTP, RFC 6238, computed by django-otp's `oath`): its secret is
    sealed at rest like the complainants' identities. One per user; confirmed once the user has
    typed a code from it. Each accepted code can be used once (`last_t`); repeated wrong codes
    count as failed sign-ins (lockout)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    secret = SealedTextField()  # the key's hex digits
    confirmed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_t = models.BigIntegerField(default=-1)
    drift = models.SmallIntegerField(default=0)

    class Meta:
        verbose_name = _("动态口令设备")
        verbose_name_plural = _("动态口令设备")

    def __str__(self) -> str:
        return f"TOTP of user {self.user_id}"
