"""The case (工单), its timeline, timers and the records around it (DESIGN §2).

State, unit, round and deadlines are written only by `cases.workflow`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huiyin.org.fields import Sealed, SealedJSONField, SealedTextField

from . import identity


class Kind(models.TextChoices):
    COMPLAINT = "complaint", _("投诉")
    CONSULTATION = "consultation", _("咨询")
    SUGGESTION = "suggestion", _("建议")
    REPORT = "report", _("举报")
    PRAISE = "praise", _("表扬")
    EMPLOYEE_COMPLAINT = "employee_complaint", _("员工投诉")


NUMBER_PREFIX = {
    Kind.COMPLAINT: "TS",
    Kind.CONSULTATION: "ZX",
    Kind.SUGGESTION: "JY",
    Kind.REPORT: "JB",
    Kind.PRAISE: "BY",
    Kind.EMPLOYEE_COMPLAINT: "YG",
}


class Channel(models.TextChoices):
    PHONE = "phone", _("电话热线")
    WEB = "web", _("网站")
    EMAIL = "email", _("电子邮件")
    LETTER = "letter", _("信函")
    FAX = "fax", _("传真")
    WALK_IN = "walk_in", _("来访")
    SMS = "sms", _("短信")
    WECHAT = "wechat", _("微信/APP")
    API = "api", _("接口")
    UPSTREAM = "upstream", _("上级转办")
    REGULATOR = "regulator", _("监管转办")


class State(models.TextChoices):
    REGISTERED = "registered", _("已登记")
    PENDING_APPROVAL = "pending_approval", _("待批示")
    DISPATCHED = "dispatched", _("已派单")
    ACCEPTED = "accepted", _("处理中")
    SUSPENDED = "suspended", _("挂起")
    RETURNED = "returned", _("已退单")
    PLAN_APPROVAL = "plan_approval", _("方案审批")
    RESULT_SUBMITTED = "result_submitted", _("已反馈")
    PENDING_CALLBACK = "pending_callback", _("待回访")
    CLOSED = "closed", _("已办结")
    INVALID = "invalid", _("不予受理")


FINAL_STATES = (State.CLOSED, State.INVALID)


class Severity(models.TextChoices):
    GENERAL = "general", _("一般")
    DIFFICULT = "difficult", _("疑难")
    MAJOR = "major", _("重大")


class Flag(models.TextChoices):
    MEDIA = "media", _("媒体介入")
    LAWSUIT = "lawsuit", _("扬言诉讼")
    REGULATOR = "regulator", _("监管介入")
    INJURY = "injury", _("人身伤害")
    EXTREME = "extreme", _("扬言极端行为")


class Validity(models.TextChoices):
    UNCHECKED = "", _("未判定")
    VALID = "valid", _("有效")
    INVALID = "invalid", _("无效")


class InvalidReason(models.TextChoices):
    """无效投诉 criteria of the seeds (DESIGN §5)."""

    TARGET_UNCLEAR = "target_unclear", _("投诉对象、内容不明确,无法查实")
    CONTRADICTED_BY_FACTS = "contradicted_by_facts", _("经查证与事实严重不符")
    BEYOND_COMMITMENTS = "beyond_commitments", _("超出公司的服务承诺")
    UNLAWFUL = "unlawful", _("不符合法律法规规定")
    OTHER = "other", _("其他")


class Liability(models.TextChoices):
    UNCLEAR = "", _("未明确")
    ENTERPRISE = "enterprise", _("企业责任")
    CUSTOMER = "customer", _("客户责任")
    THIRD_PARTY = "third_party", _("第三方责任")


class Satisfaction(models.TextChoices):
    VERY_SATISFIED = "very_satisfied", _("非常满意")
    SATISFIED = "satisfied", _("满意")
    NEUTRAL = "neutral", _("基本满意/一般")
    UNSATISFIED = "unsatisfied", _("不满意")
    UNREACHABLE = "unreachable", _("未联系上")


class CompensationStatus(models.TextChoices):
    NONE = "", _("无")
    REQUESTED = "requested", _("待审批")  # above the policy's limit: waits for the leader
    APPROVED = "approved", _("已批准")
    REFUSED = "refused", _("未批准")


class CloseReason(models.TextChoices):
    """Why a case ended (closed or invalid)."""

    OPEN = "", ""
    CALLBACK = "callback", _("closed after callback")
    SIGNOFF = "signoff", _("closed")
    NO_CALLBACK = "no_callback", _("closed without callback")
    RESOLVED_ON_SPOT = "resolved_on_spot", _("answered on the spot")
    UNREACHABLE = "unreachable", _("customer unreachable")
    MERGED = "merged", _("merged")
    TRANSFERRED = "transferred", _("transferred out")
    INVALID = "invalid", _("invalid")
    APPEAL_REJECTED = "appeal_rejected", _("appeal rejected")
    # 撤回: the complainant withdrew the case; neither invalid nor a return (DESIGN §3, issue 14.11).
    WITHDRAWN = "withdrawn", _("withdrawn")


class NotifyVia(models.TextChoices):
    """How the complainant wants the formal notices (告知书) of the case: read on the portal,
    by e-mail, by SMS, or printed and posted."""

    NONE = "", _("未选择")
    PORTAL = "portal", _("网站查询")
    EMAIL = "email", _("电子邮件")
    SMS = "sms", _("短信")
    POST = "post", _("邮寄")


class CustomerClass(models.TextChoices):
    NONE = "", _("未分级")
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"
    D = "D", "D"


class Category(models.Model):
    """A node of the configurable category tree (产品质量/服务态度/时效 …)."""

    code = models.SlugField(_("代码"), max_length=64, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    active = models.BooleanField(_("启用"), default=True)
    position = models.PositiveIntegerField(default=0)
    # Product-quality presets: the A/B/C class of the category and its compensation standard.
    case_class = models.CharField(_("等级"), max_length=4, blank=True)
    compensation = models.CharField(_("赔偿标准"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("分类")
        verbose_name_plural = _("分类")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name


class CaseSequence(models.Model):
    """The last number handed out per prefix and day; incremented inside the case's
    own transaction, so a rolled-back intake gives its number back (gap-free per day)."""

    prefix = models.CharField(max_length=4)
    day = models.DateField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prefix", "day"], name="case_sequence_prefix_day")]

    def __str__(self) -> str:
        return f"{self.prefix}{self.day:%Y%m%d}: {self.last}"


class Case(models.Model):
    # Compared with `=` only: no LIKE index on PostgreSQL (migration 0021, huiyin.db.without_pattern_indexes).
    number = models.CharField(_("编号"), max_length=20, unique=True)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    channel = models.CharField(_("渠道"), max_length=20, choices=Channel.choices)
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.REGISTERED)
    round = models.PositiveSmallIntegerField(_("派单轮次"), default=1)
    version = models.PositiveIntegerField(default=1)
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="+")

    subject = models.CharField(_("主题"), max_length=200)
    description = models.TextField(_("内容"), max_length=20000, blank=True)
    demands = models.TextField(_("诉求"), max_length=5000, blank=True)
    occurred_at = models.DateTimeField(_("发生时间"), null=True, blank=True)
    product = models.CharField(_("产品/服务"), max_length=200, blank=True)
    amount = models.DecimalField(_("涉及金额"), max_digits=14, decimal_places=2, null=True, blank=True)
    people_count = models.PositiveIntegerField(_("涉及人数"), default=1)
    flags = models.JSONField(_("风险标记"), default=list, blank=True)
    tags = models.JSONField(_("标签"), default=list, blank=True)
    region = models.CharField(_("区域"), max_length=100, blank=True)

    # The complainant's identity is sealed at rest (org.fields, cases.identity); the keyed hashes
    # beside it answer exact searches. Lengths are checked on the way in (cases.inputs).
    complainant_name = SealedTextField(_("投诉人"), blank=True)
    complainant_phone = SealedTextField(_("电话"), blank=True)
    complainant_email = SealedTextField(_("邮箱"), blank=True)
    complainant_address = SealedTextField(_("地址"), blank=True)
    complainant_account = SealedTextField(_("账号/合同/订单号"), blank=True)
    complainant_id_number = SealedTextField(_("证件号"), blank=True)
    # NULL for no value (not ''), so that an empty field has no entry in its partial index
    # (`identity.column_hash`): the one exception to Django's '' for an empty string.
    complainant_name_hash = models.CharField(max_length=32, blank=True, null=True, default=None, editable=False)  # noqa: DJ001
    complainant_phone_hash = models.CharField(max_length=32, blank=True, null=True, default=None, editable=False)  # noqa: DJ001
    complainant_email_hash = models.CharField(max_length=32, blank=True, null=True, default=None, editable=False)  # noqa: DJ001
    complainant_account_hash = models.CharField(max_length=32, blank=True, null=True, default=None, editable=False)  # noqa: DJ001
    complainant_id_number_hash = models.CharField(max_length=32, blank=True, null=True, default=None, editable=False)  # noqa: DJ001
    customer_class = models.CharField(_("客户等级"), max_length=1, choices=CustomerClass.choices, blank=True)
    anonymous = models.BooleanField(_("匿名"), default=False)

    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                 db_index=False)  # `case_category`, only where set
    severity = models.CharField(_("严重程度"), max_length=20, choices=Severity.choices, default=Severity.GENERAL)
    case_class = models.CharField(_("等级"), max_length=4, blank=True)
    validity = models.CharField(_("有效性"), max_length=10, choices=Validity.choices, blank=True)
    invalid_code = models.CharField(_("无效类别"), max_length=30, choices=InvalidReason.choices, blank=True)
    invalid_reason = models.CharField(_("无效原因"), max_length=500, blank=True)
    liability = models.CharField(_("责任"), max_length=20, choices=Liability.choices, blank=True)

    # No index of their own: `case_owner_id` and `case_unit_id` (unit, -id) begin with them and
    # serve every look-up by unit (one index fewer to write at each intake, each).
    owner_unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("受理单位"),
                                   db_index=False)
    unit = models.ForeignKey(
        "org.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("承办单位"),
        db_index=False,
    )
    proposed_unit = models.ForeignKey("org.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                      db_index=False)  # `case_proposed_unit`, only where set
    proposed_co_units = models.JSONField(default=list, blank=True)  # unit codes awaiting 批示
    instructions = models.TextField(_("派单意见"), blank=True)
    return_disputed = models.BooleanField(_("退单异议"), default=False)
    registered_by = models.ForeignKey(  # `case_registered_by_state` begins with it
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("受理人"), db_index=False
    )
    received_at = models.DateTimeField(_("受理时间"))
    upstream_ref = models.CharField(_("上级工单号"), max_length=64, blank=True)
    upstream_due_at = models.DateTimeField(_("上级时限"), null=True, blank=True)
    # The complained-about unit and person (被投诉单位/被投诉人): a policy rule may forbid
    # dispatching the case to them (回避, conflict of interest).
    respondent_unit = models.ForeignKey(  # `case_respondent_unit`, only where set
        "org.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("被投诉单位"),
        db_index=False,
    )
    respondent_person = models.CharField(_("被投诉人"), max_length=100, blank=True)
    recusal = models.BooleanField(_("回避"), default=False)
    # A group complaint's representatives (群体投诉代表): [{name, phone, id_number}].
    representatives = SealedJSONField(_("代表"), default=list, blank=True)
    # PIPL (issue 11): the privacy notice the complainant was given at intake, and when the case's
    # personal data was erased after its retention period (privacy.services).
    privacy_notice = models.CharField(_("隐私告知版本"), max_length=50, blank=True)
    anonymised_at = models.DateTimeField(_("匿名化时间"), null=True, blank=True)
    anonymised_groups = models.JSONField(default=list, blank=True)  # retention groups already erased

    cause = models.TextField(_("原因"), blank=True)
    course = models.TextField(_("经过"), blank=True)
    responsible_person = models.CharField(_("责任人"), max_length=100, blank=True)
    conclusion = models.TextField(_("结论"), blank=True)
    countermeasures = models.TextField(_("对策与防范措施"), blank=True)
    reply = models.TextField(_("答复内容"), blank=True)

    compensation_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    compensation_form = models.CharField(max_length=100, blank=True)
    compensation_status = models.CharField(
        _("赔偿审批"), max_length=10, choices=CompensationStatus.choices, blank=True
    )
    satisfaction = models.CharField(_("满意度"), max_length=20, choices=Satisfaction.choices, blank=True)
    callback_attempts = models.PositiveSmallIntegerField(default=0)
    urge_count = models.PositiveIntegerField(default=0)
    escalated = models.BooleanField(default=False)
    supervised = models.BooleanField(_("督办"), default=False)
    appeal = models.BooleanField(default=False)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    db_index=False)  # `case_merged_into`, only where set
    repeat_of = models.ForeignKey(  # `case_repeat_of`, only where set
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("重复投诉"),
        db_index=False,
    )
    requires_approval = models.BooleanField(_("需领导批示"), default=False)
    reply_level = models.PositiveSmallIntegerField(default=0)  # levels of 答复审核 passed
    # Levels of the current approval chain passed (批示 before dispatch, plan approval, appeal review)
    # and the role whose decision the case now waits for ("" when none): kept by the workflow so
    # the approvals inbox and 我的待办 find a case by its approver (a policy may name any role).
    approval_level = models.PositiveSmallIntegerField(default=0)
    awaiting = models.CharField(_("待审批角色"), max_length=50, blank=True)
    close_reason = models.CharField(max_length=30, choices=CloseReason.choices, blank=True)
    transfer_authority = models.CharField(max_length=200, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The moments a policy's clocks may count from (`from:` of a timer), of the current round:
    # the slip reached the unit, the unit acknowledged it, the unit reported its result.
    dispatched_at = models.DateTimeField(_("派单时间"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    result_at = models.DateTimeField(_("反馈时间"), null=True, blank=True)
    # Handling cycles: 1, plus one per reopening. The reopened work gets its own clocks (timers
    # of the new cycle, counted from `reopened_at`); the earlier cycles' timers stay as they were.
    cycle = models.PositiveSmallIntegerField(_("办理周期"), default=1)
    reopened_at = models.DateTimeField(_("重办时间"), null=True, blank=True)
    # The earliest counting deadline of the case's main stages (paused clocks do not count) and
    # when that stage is at risk (the policy's reminder share used up): kept by cases.deadlines
    # whenever a timer changes, so lists sort and filter by time left from an index.
    next_due_at = models.DateTimeField(_("当前时限"), null=True, blank=True, editable=False)
    next_remind_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Issue 12 (channels): the call's recording in the call centre's system, as the screen-pop
    # handed it to intake; how the complainant wants the formal notices of the case.
    recording_ref = models.CharField(_("录音编号"), max_length=200, blank=True)
    notify_via = models.CharField(_("告知方式"), max_length=10, choices=NotifyVia.choices, blank=True)
    # The complainant asked on the portal to have the closed case handled again (重办申请);
    # cleared when it is reopened.
    reopen_requested_at = models.DateTimeField(_("申请重办时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("工单")
        verbose_name_plural = _("工单")
        indexes = [
            models.Index(fields=["state", "-id"], name="case_state_id"),
            models.Index(fields=["unit", "-id"], name="case_unit_id"),
            models.Index(fields=["owner_unit", "-id"], name="case_owner_id"),
            models.Index(fields=["kind", "-id"], name="case_kind_id"),
            models.Index(fields=["severity", "-id"], name="case_severity_id"),
            models.Index(fields=["received_at"], name="case_received"),
            # exact search by identity, through the keyed hashes (cases.identity)
            models.Index(fields=["complainant_phone_hash", "id"], name="case_phone_hash",
                         condition=Q(complainant_phone_hash__isnull=False)),
            models.Index(fields=["complainant_name_hash", "id"], name="case_name_hash",
                         condition=Q(complainant_name_hash__isnull=False)),
            models.Index(fields=["complainant_email_hash"], name="case_email_hash",
                         condition=Q(complainant_email_hash__isnull=False)),
            models.Index(fields=["complainant_account_hash"], name="case_account_hash",
                         condition=Q(complainant_account_hash__isnull=False)),
            models.Index(fields=["complainant_id_number_hash"], name="case_id_number_hash",
                         condition=Q(complainant_id_number_hash__isnull=False)),
            # the retention job: closed cases not yet anonymised, oldest first
            models.Index(fields=["closed_at"], condition=Q(anonymised_at__isnull=True, closed_at__isnull=False),
                         name="case_retention_due"),
            # the scheduler's age rules look at open cases only (a few % of a million)
            models.Index(fields=["received_at"], condition=~Q(state__in=["closed", "invalid"]), name="case_open_received"),
            # most urgent first: lists sorted by time left, keyset on (next_due_at, id)
            models.Index(fields=["next_due_at", "id"], condition=Q(next_due_at__isnull=False), name="case_next_due"),
            # the staff pages at a million cases (migration 0014 made them in SQL; 0019 declares them here,
            # where a rebuild of the table on SQLite keeps them): each "waiting for me" term (a state
            # and a unit) most urgent first; what waits for the leader's approval of compensation;
            # "registered by me, still open"
            models.Index(fields=["state", "next_due_at", "id"], name="case_state_due"),
            models.Index(fields=["compensation_status", "id"], name="case_compensation_status"),
            models.Index(fields=["registered_by", "state"], name="case_registered_by_state"),
            # References that a new case mostly lacks are indexed only where set: an intake writes
            # none of these five (each a page of the write-ahead log and a B-tree insert under the
            # write lock). A look-up by value (`=`, `IN`) implies IS NOT NULL, so both databases
            # still use them; `repeat_of IS NOT NULL` (the "repeat" outcome) reads them whole.
            *[models.Index(fields=[name], condition=Q(**{f"{name}__isnull": False}), name=f"case_{name}")
              for name in ("category", "proposed_unit", "respondent_unit", "merged_into", "repeat_of")],
        ]

    # Set on the instances that readers show (cases.selectors, the pages); never stored.
    next_timer: Timer | None
    next_due: datetime | None
    overdue: bool
    board_kind: str
    can: set[str]
    pending_extension: Extension | None
    may_urge: bool
    repeat: bool
    urged_instead: bool  # intake urged this open case instead of registering a new one

    def __str__(self) -> str:
        return self.number

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Keeps each identity field's keyed hash beside it (cases.identity): recomputed when
        the field was assigned since it was read, written with it when `update_fields` names it."""
        update_fields = kwargs.get("update_fields")
        extra = self.hash_identity(update_fields)
        if update_fields is not None and extra:
            kwargs["update_fields"] = [*update_fields, *extra]
        super().save(*args, **kwargs)

    def hash_identity(self, names: Iterable[str] | None = None) -> list[str]:
        """Recompute the keyed hash of each identity field (of `names`, or all) assigned since it
        was read; return the hash columns set. `save` calls it; so does the intake, which writes
        a new case with a lean INSERT (`huiyin.db.insert_one`)."""
        extra: list[str] = []
        for name in identity.HASHED:
            if names is not None and name not in names:
                continue
            value = self.__dict__.get(name)
            if isinstance(value, Sealed) or name not in self.__dict__:
                continue  # unchanged since it was loaded (or deferred): its hash stands
            setattr(self, identity.hash_column(name), identity.column_hash(name, value or ""))
            extra.append(identity.hash_column(name))
        return extra

    @property
    def is_open(self) -> bool:
        return self.state not in FINAL_STATES


class CoHandling(models.Model):
    """A co-handling unit (协办) of a joint case in one round: its own acknowledgement,
    deadline and contribution. The lead unit (Case.unit, 主办) closes the round."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="co_handlings")
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+")
    round = models.PositiveSmallIntegerField()
    cycle = models.PositiveSmallIntegerField(default=1)
    active = models.BooleanField(default=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    result = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "unit", "cycle", "round"], name="co_handling_unique")]
        indexes = [models.Index(fields=["unit", "case"], condition=Q(active=True), name="co_handling_active")]

    def __str__(self) -> str:
        return f"{self.case_id} 协办 {self.unit_id} (round {self.round})"


class RuleHit(models.Model):
    """A rule that fired on a case. Unique per case and rule: a rule's effects are applied
    once, and a worker that finds the row already there knows another got there first."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="rule_hits")
    rule = models.CharField(max_length=100)
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "rule"], name="rule_hit_once")]

    def __str__(self) -> str:
        return f"{self.rule} @ case {self.case_id}"


class CaseLink(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="links_out")
    to = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(max_length=20, default="related")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "to"], name="case_link_unique")]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.to_id} ({self.kind})"


class Event(models.Model):
    """One entry of a case's timeline. Append-only: never updated, never deleted
    (enforced by a trigger on PostgreSQL and by `save`/`delete` here)."""

    # No index of its own: `event_case_id` (case, id) serves every look-up by case (and the
    # foreign key's checks); a second one cost every event written (10,000 a scheduler pass).
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events", db_index=False)
    action = models.CharField(max_length=40)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    changes = models.JSONField(default=dict)  # {field: [old, new]} — codes, never labels
    comment = models.TextField(blank=True)
    source = models.CharField(max_length=20, blank=True)  # api | web | worker | portal
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("处理记录")
        verbose_name_plural = _("处理记录")
        ordering = ["id"]
        indexes = [models.Index(fields=["case", "id"], name="event_case_id")]

    def __str__(self) -> str:
        return f"{self.action} @ case {self.case_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise RuntimeError("timeline events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise RuntimeError("timeline events are append-only")


class TimerState(models.TextChoices):
    RUNNING = "running", _("计时中")
    PAUSED = "paused", _("暂停")
    MET = "met", _("按时完成")
    BREACHED = "breached", _("超期")
    CANCELLED = "cancelled", _("已取消")  # the stage was abandoned (returned, closed early)


# A timer is open until its stage is done (stopped_at set); an open timer may already be
# breached (the sweep marks it) and is still stopped, met-late, when the stage finishes.


class Timer(models.Model):
    """One stage deadline of one dispatch round (DESIGN §4).

    `due_at` is always recomputable from `started_at`, `amount`/`unit` and the
    `adjustments` (extensions, pauses) by `cases.deadlines.compute_due`.
    A breached timer stays breached when the stage is finally done; `breach_seconds`
    says by how much.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="timers")
    code = models.CharField(max_length=20)
    # Set only for a co-handling unit's own stage (协办); the case's main stages have none. Indexed
    # where set only (`timer_co_unit`): the stages without one, nearly all, write no entry.
    co_unit = models.ForeignKey("org.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                db_index=False)
    round = models.PositiveSmallIntegerField(default=1)
    cycle = models.PositiveSmallIntegerField(default=1)  # the case's handling cycle (reopenings)
    # An obligation (e.g. 结案后报备总公司) names the role that answers for it; stages leave it empty.
    role = models.CharField(max_length=50, blank=True)
    state = models.CharField(max_length=10, choices=TimerState.choices, default=TimerState.RUNNING)
    amount = models.PositiveIntegerField()
    unit = models.CharField(max_length=20)
    basis = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    provisional = models.BooleanField(default=False)
    capped_by_upstream = models.BooleanField(default=False)
    # What shortened the stage's own deadline: "upstream" (the upstream's deadline) or
    # "end_to_end" (the case's deadline from receipt to closure); "" when nothing did.
    capped_by = models.CharField(max_length=20, blank=True)
    adjustments = models.JSONField(default=list)
    paused_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    breach_seconds = models.PositiveIntegerField(null=True, blank=True)
    remind_at = models.DateTimeField(null=True, blank=True)  # started + reminder share of the time
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("时限")
        verbose_name_plural = _("时限")
        constraints = [
            # At most one open timer per stage: a second one would double-count a deadline.
            models.UniqueConstraint(
                fields=["case", "code"], condition=Q(stopped_at__isnull=True, co_unit__isnull=True),
                name="one_open_timer_per_code",
            ),
            models.UniqueConstraint(
                fields=["case", "code", "co_unit"], condition=Q(stopped_at__isnull=True, co_unit__isnull=False),
                name="one_open_co_timer_per_code",
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(state="running"), name="timer_running_due"),
            models.Index(fields=["due_at", "case"], condition=Q(stopped_at__isnull=True), name="timer_open_due"),
            models.Index(fields=["provisional"], condition=Q(provisional=True), name="timer_provisional"),
            models.Index(fields=["co_unit"], condition=Q(co_unit__isnull=False), name="timer_co_unit"),
            models.Index(
                fields=["remind_at"], condition=Q(state="running", reminded_at__isnull=True), name="timer_remind_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} of case {self.case_id}, round {self.round}: {self.state}"


class ExtensionStatus(models.TextChoices):
    REQUESTED = "requested", _("待审批")
    GRANTED = "granted", _("已批准")
    REFUSED = "refused", _("未批准")


class Extension(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="extensions")
    round = models.PositiveSmallIntegerField()
    amount = models.PositiveIntegerField()
    unit = models.CharField(max_length=20)
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=ExtensionStatus.choices, default=ExtensionStatus.REQUESTED)
    # The clock it extends and the role that decides it (the policy's extension tier).
    timer = models.CharField(max_length=20, default="resolve")
    approver = models.CharField(max_length=50, default="leader")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(status="requested"), name="one_pending_extension_per_case"
            ),
        ]

    def __str__(self) -> str:
        return f"extension of case {self.case_id}: {self.amount} {self.unit} ({self.status})"


class IdempotencyKey(models.Model):
    """A create request's Idempotency-Key, so a retried POST returns the first case."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    body_hash = models.CharField(max_length=64)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key")]

    def __str__(self) -> str:
        return f"{self.key} → case {self.case_id}"


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"cases/{instance.case.received_at:%Y/%m}/{instance.case.number}/{instance.token}"


class Attachment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    token = models.CharField(max_length=32, unique=True)
    file = models.FileField(upload_to=attachment_path, max_length=300)
    # The user's file name may name a person ("张三身份证.jpg"): sealed like the identity fields.
    name = SealedTextField()
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()  # of the plaintext
    sha256 = models.CharField(max_length=64)  # of the plaintext
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    # The file on disk is sealed (org.crypto streams); False only for files stored before issue 11.
    sealed = models.BooleanField(default=False)
    # A report's (举报) file added by the registering centre — the letter, the recording — may
    # identify the reporter: only roles that see the reporter's identity see it (cases.access).
    confidential = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"attachment {self.token}"


class DocumentKind(models.TextChoices):
    """The formal documents of a case (DESIGN §12), printable as HTML and PDF."""

    ACCEPTANCE_NOTICE = "acceptance_notice", _("受理告知书")
    REJECTION_NOTICE = "rejection_notice", _("不予受理告知书")
    TRANSFER_LETTER = "transfer_letter", _("转办函")
    REPLY = "reply", _("答复意见书")
    CALLBACK_RECORD = "callback_record", _("回访记录")
    RECORD_FORM = "record_form", _("记录表")
    WALK_IN_RECORD = "walk_in_record", _("来访登记表")


class CaseDocument(models.Model):
    """A formal document issued for a case in one handling cycle: its number is handed out once,
    the first time it is issued (printed or sent), and stays with it. A notice sent to the
    complainant records how (`sent_via`). Written by `cases.notices` only."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(_("文书"), max_length=30, choices=DocumentKind.choices)
    cycle = models.PositiveSmallIntegerField(default=1)
    number = models.CharField(_("文号"), max_length=80, unique=True)
    issued_at = models.DateTimeField(_("出具时间"))
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    sent_via = models.CharField(_("送达方式"), max_length=10, choices=NotifyVia.choices, blank=True)
    sent_at = models.DateTimeField(_("送达时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("文书")
        verbose_name_plural = _("文书")
        constraints = [models.UniqueConstraint(fields=["case", "kind", "cycle"], name="case_document_once")]

    def __str__(self) -> str:
        return self.number
