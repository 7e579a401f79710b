"""The reports' own records (DESIGN §10–11): per-case summaries read off the timeline, business
volumes, penalty points and their appeals, quality inspections, corrective actions, warnings,
bulletins and the reports generated.

None of these is a field of a case: a penalty, an inspection or a corrective action that concerns
a case appears on the case's timeline through `cases.workflow.change` (an event), never by
writing the case.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# --- per-case summaries (the reports' rollup) ---------------------------------------------------


class CaseFact(models.Model):
    """One case as the reports count it: its dimensions (the case's current kind, channel,
    category, severity, customer class, region and units — what the case list filters by) and
    its outcomes, each the value of the outcome of the same name in `cases.outcomes` (read off
    the timeline and the timers). Refreshed whenever the case gets a new event
    (`reports.facts.refresh`), so it follows every change, also one after the report's period."""

    case = models.OneToOneField("cases.Case", primary_key=True, on_delete=models.CASCADE, related_name="+")
    received_at = models.DateTimeField()
    received_day = models.DateField()  # Beijing date of receipt: the period a case counts in
    closed_day = models.DateField(null=True)  # the day of its last closing, when concluded
    kind = models.CharField(max_length=20)
    channel = models.CharField(max_length=20)
    severity = models.CharField(max_length=20)
    customer_class = models.CharField(max_length=1, blank=True)
    region = models.CharField(max_length=100, blank=True)
    category_id = models.IntegerField(null=True)
    category_root_id = models.IntegerField(null=True)  # the top of its category's branch
    owner_unit_id = models.IntegerField()
    unit_id = models.IntegerField(null=True)
    # the outcomes (cases.outcomes.OUTCOMES, but `valid`, which is `not invalid`)
    invalid = models.BooleanField(default=False)
    response_due = models.BooleanField(default=False)
    responded = models.BooleanField(default=False)
    concluded = models.BooleanField(default=False)
    resolved = models.BooleanField(default=False)
    first_time = models.BooleanField(default=False)
    reached = models.BooleanField(default=False)
    satisfied = models.BooleanField(default=False)
    handled = models.BooleanField(default=False)
    called_back = models.BooleanField(default=False)
    repeat = models.BooleanField(default=False)
    ended = models.BooleanField(default=False)
    reopened = models.BooleanField(default=False)
    dispatched = models.BooleanField(default=False)
    redispatched = models.BooleanField(default=False)
    second_round = models.BooleanField(default=False)
    third_round = models.BooleanField(default=False)
    escalated = models.BooleanField(default=False)
    on_spot = models.BooleanField(default=False)
    within_deadline = models.BooleanField(default=False)
    overdue_handling = models.BooleanField(default=False)
    repeated_handling = models.BooleanField(default=False)
    liable = models.BooleanField(default=False)
    satisfaction = models.CharField(max_length=20, blank=True)  # the last callback that reached the customer
    handling_minutes = models.IntegerField(null=True)  # business minutes from receipt to the last closing
    refreshed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["received_day", "unit_id"], name="fact_day_unit"),
                   # the handling-time percentile of a period: an index-only range
                   models.Index(fields=["received_day", "handling_minutes"], name="fact_day_handling",
                                condition=Q(concluded=True, handling_minutes__isnull=False))]

    def __str__(self) -> str:
        return f"facts of case {self.case_id}"


class StageFact(models.Model):
    """One decided stage of a case (a timer code whose deadline was met or breached): late when
    any of its timers was breached (`cases.outcomes.timer_outcome`)."""

    fact = models.ForeignKey(CaseFact, on_delete=models.CASCADE, related_name="stages")
    code = models.CharField(max_length=40)
    late = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fact", "code"], name="stage_fact_once")]

    def __str__(self) -> str:
        return f"{self.code} of case {self.fact_id}: {'late' if self.late else 'on time'}"


# --- per-day totals of the summaries (the whole organisation's dashboard) -----------------------
#
# Sums of the `CaseFact` rows per Beijing day of receipt (span "d") and per month of receipt (span
# "m", `day` its first day: a period's whole months are read as one row each) and a few of their
# columns, kept equal to a GROUP BY over the summaries by `reports.facts` (the same transaction that rewrites a case's
# summary subtracts its old row and adds its new one). Read only when the caller sees every unit:
# then the cohort is a range of days (docs/decisions/0008-report-performance.md). A missing
# value is stored as 0 (no unit or category has id 0), so the unique key also holds for them.


class DayUnitTotal(models.Model):
    """The summaries of one day, kind, home unit (the handling unit, or the registering unit while
    undispatched: `ListFilters.within`) and content class (the top of the category's branch; 0:
    not classified): how many were received and how many have each outcome."""

    span = models.CharField(max_length=1)  # "d": the day; "m": the month beginning on `day`
    day = models.DateField()
    kind = models.CharField(max_length=20)
    home_unit_id = models.IntegerField()
    category_root_id = models.IntegerField()  # 0: not classified
    received = models.IntegerField(default=0)
    invalid = models.IntegerField(default=0)
    response_due = models.IntegerField(default=0)
    responded = models.IntegerField(default=0)
    concluded = models.IntegerField(default=0)
    resolved = models.IntegerField(default=0)
    first_time = models.IntegerField(default=0)
    reached = models.IntegerField(default=0)
    satisfied = models.IntegerField(default=0)
    handled = models.IntegerField(default=0)
    called_back = models.IntegerField(default=0)
    repeat = models.IntegerField(default=0)
    ended = models.IntegerField(default=0)
    reopened = models.IntegerField(default=0)
    dispatched = models.IntegerField(default=0)
    redispatched = models.IntegerField(default=0)
    second_round = models.IntegerField(default=0)
    third_round = models.IntegerField(default=0)
    escalated = models.IntegerField(default=0)
    on_spot = models.IntegerField(default=0)
    within_deadline = models.IntegerField(default=0)
    overdue_handling = models.IntegerField(default=0)
    repeated_handling = models.IntegerField(default=0)
    liable = models.IntegerField(default=0)
    handling_cases = models.IntegerField(default=0)  # concluded, with their business minutes known
    handling_minutes = models.BigIntegerField(default=0)  # their sum

    class Meta:
        constraints = [models.UniqueConstraint(fields=["span", "day", "kind", "home_unit_id", "category_root_id"],
                                               name="day_unit_total_key")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} unit {self.home_unit_id} class {self.category_root_id}: {self.received}"


class DayCaseTotal(models.Model):
    """The summaries of one day per kind, channel, severity and customer class: received and the
    outcomes the breakdowns show."""

    span = models.CharField(max_length=1)  # "d": the day; "m": the month beginning on `day`
    day = models.DateField()
    kind = models.CharField(max_length=20)
    channel = models.CharField(max_length=20)
    severity = models.CharField(max_length=20)
    customer_class = models.CharField(max_length=1)
    received = models.IntegerField(default=0)
    concluded = models.IntegerField(default=0)
    resolved = models.IntegerField(default=0)
    reached = models.IntegerField(default=0)
    satisfied = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["span", "day", "kind", "channel", "severity", "customer_class"],
                                               name="day_case_total_key")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.channel} {self.severity} {self.customer_class}: {self.received}"


class DayStageTotal(models.Model):
    """The decided stages (`StageFact`) of the cases of one day, kind and home unit, per timer
    code: how many, how many late."""

    span = models.CharField(max_length=1)  # "d": the day; "m": the month beginning on `day`
    day = models.DateField()
    kind = models.CharField(max_length=20)
    home_unit_id = models.IntegerField()
    code = models.CharField(max_length=40)
    n = models.IntegerField(default=0)
    late = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["span", "day", "kind", "home_unit_id", "code"],
                                               name="day_stage_total_key")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} unit {self.home_unit_id} {self.code}: {self.n} ({self.late} late)"


class Cursor(models.Model):
    """Where a job of this app has got to (the last timeline event it read, a day it evaluated)."""

    name = models.CharField(max_length=40, unique=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"


# --- business volumes -----------------------------------------------------------------------------


class Measure(models.TextChoices):
    """What a unit's business is measured in, and the scale its complaints are counted per."""

    CUSTOMERS = "customers", _("Customers")
    HOUSEHOLDS = "households", _("Households")
    PREMIUM = "premium", _("Premium (yuan)")
    POLICIES = "policies", _("Policies")
    ORDERS = "orders", _("Orders")


# measure → (scale, its label): complaints per 10,000 customers, per 100 million yuan of premium …
MEASURE_SCALE: dict[str, tuple[int, str]] = {
    Measure.CUSTOMERS: (10_000, "万户"),
    Measure.HOUSEHOLDS: (10_000, "万户"),
    Measure.PREMIUM: (100_000_000, "亿元"),
    Measure.POLICIES: (100_000_000, "亿张"),
    Measure.ORDERS: (10_000, "万单"),
}


class BusinessVolume(models.Model):
    """A unit's business volume in one month (customers, premium, policies …), entered by hand."""

    unit = models.ForeignKey("org.Unit", on_delete=models.CASCADE, related_name="+", verbose_name=_("Unit"))
    month = models.DateField(_("Month"))  # the first day of the month
    measure = models.CharField(_("Measure"), max_length=20, choices=Measure.choices)
    value = models.DecimalField(_("Value"), max_digits=18, decimal_places=2)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["unit", "month", "measure"], name="volume_once")]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.month:%Y-%m} {self.measure} {self.value}"


# --- accountability (考核) -----------------------------------------------------------------------


class PenaltyKind(models.TextChoices):
    PENALTY = "penalty", _("Penalty")
    REWARD = "reward", _("Reward")


class PenaltyStatus(models.TextChoices):
    ACTIVE = "active", _("In force")
    APPEALED = "appealed", _("Appealed")
    UPHELD = "upheld", _("Upheld after appeal")
    CANCELLED = "cancelled", _("Cancelled after appeal")


class PenaltyEntry(models.Model):
    """Points (and fines) of one rule of the policy's `penalties`, for one case, attached to the
    responsible unit and person. Written once per case, rule and key (a breached stage's timer for
    the per-stage rules) — the job that finds closed cases may run on several workers."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(max_length=64)
    key = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=10, choices=PenaltyKind.choices, default=PenaltyKind.PENALTY)
    points = models.DecimalField(max_digits=7, decimal_places=1, default=0)
    fine_min = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    fine_max = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    action = models.CharField(max_length=200, blank=True)  # 诫勉, 记过 … as the policy says
    basis = models.CharField(max_length=300, blank=True)
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    person_name = models.CharField(max_length=100, blank=True)
    at = models.DateTimeField()  # when the case was closed: the period the entry counts in
    status = models.CharField(max_length=10, choices=PenaltyStatus.choices, default=PenaltyStatus.ACTIVE)
    manual = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "rule", "key"], name="penalty_once")]
        indexes = [models.Index(fields=["at"], name="penalty_at")]

    def __str__(self) -> str:
        return f"{self.rule} on case {self.case_id}: {self.points}"


class PenaltyAppeal(models.Model):
    """The person contests an entry; a supervisor over the unit decides (one open appeal at a time)."""

    entry = models.ForeignKey(PenaltyEntry, on_delete=models.CASCADE, related_name="appeals")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True)
    upheld = models.BooleanField(null=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entry"], condition=Q(decided_at__isnull=True),
                                               name="one_open_penalty_appeal")]

    def __str__(self) -> str:
        return f"appeal of penalty {self.entry_id}"


class QualityInspection(models.Model):
    """质检: a supervisor scores a closed case against the policy's checklist (once per case)."""

    case = models.OneToOneField("cases.Case", on_delete=models.PROTECT, related_name="+")
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    items = models.JSONField(default=list)  # [{code, name, max, score, note}]
    score = models.DecimalField(max_digits=6, decimal_places=1)
    max_score = models.DecimalField(max_digits=6, decimal_places=1)
    recording_ref = models.CharField(max_length=200, blank=True)  # the call recording's reference
    comment = models.TextField(blank=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"inspection of case {self.case_id}: {self.score}/{self.max_score}"


# --- corrective and preventive actions (纠正预防措施) ---------------------------------------------


class ActionState(models.TextChoices):
    OPEN = "open", _("Open")
    SUBMITTED = "submitted", _("Waiting for verification")
    VERIFIED = "verified", _("Verified")


class CorrectiveAction(models.Model):
    """A corrective or preventive action traced from one or more cases to a root cause: an owner,
    a due date on the working-day calendar, evidence, and a verification by another person."""

    title = models.CharField(_("Title"), max_length=200)
    root_cause = models.TextField(_("Root cause"))
    plan = models.TextField(_("Action"), blank=True)
    cases = models.ManyToManyField("cases.Case", related_name="+")
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    due_at = models.DateTimeField()
    due_days = models.PositiveIntegerField()  # working days from creation
    due_provisional = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=ActionState.choices, default=ActionState.OPEN)
    evidence = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    verified_at = models.DateTimeField(null=True)
    verify_note = models.TextField(blank=True)
    reminded_at = models.DateTimeField(null=True)  # when its lateness was announced (once)

    class Meta:
        indexes = [models.Index(fields=["due_at"], condition=Q(reminded_at__isnull=True, state="open"),
                                name="action_overdue_due")]

    def __str__(self) -> str:
        return self.title


# --- warnings (预警) --------------------------------------------------------------------------------


class WarningKind(models.TextChoices):
    CATEGORY = "category", _("Category above its usual level")
    UNIT = "unit", _("Unit above its usual level")
    REGION = "region", _("Region above its usual level")
    GROUP = "group", _("Group complaint forming")
    RISK = "risk", _("Case at risk of going to regulators or the media")


class WarningLevel(models.TextChoices):
    YELLOW = "yellow", _("Yellow")
    ORANGE = "orange", _("Orange")
    RED = "red", _("Red")


class WarningState(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    CLOSED = "closed", _("Closed")


class EarlyWarning(models.Model):
    """A graded warning with the cases behind it; acknowledged and closed by a person."""

    kind = models.CharField(max_length=10, choices=WarningKind.choices)
    level = models.CharField(max_length=10, choices=WarningLevel.choices)
    key = models.CharField(max_length=100)  # the category code, unit code, region or case number
    label = models.CharField(max_length=200)
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    observed = models.IntegerField(default=0)
    median = models.FloatField(null=True)
    mad = models.FloatField(null=True)
    score = models.FloatField(null=True)
    reason = models.CharField(max_length=300, blank=True)
    cases = models.ManyToManyField("cases.Case", related_name="+")
    state = models.CharField(max_length=15, choices=WarningState.choices, default=WarningState.OPEN)
    raised_at = models.DateTimeField()
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                        related_name="+")
    acknowledged_at = models.DateTimeField(null=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True)
    note = models.TextField(blank=True)
    dedupe = models.CharField(max_length=200, unique=True)

    class Meta:
        indexes = [models.Index(fields=["state", "-id"], name="warning_state_id")]

    def __str__(self) -> str:
        return f"{self.level} {self.kind} {self.key}"


# --- bulletins (通报) and generated reports ---------------------------------------------------------


class Bulletin(models.Model):
    """Units ranked by the policy's indicators for a period, with the cases behind each mark;
    published to the organisation (the subtree of `unit`) as a page and a workbook."""

    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    title = models.CharField(max_length=200)
    spec = models.CharField(max_length=64, blank=True)
    indicators = models.JSONField(default=list)
    rows = models.JSONField(default=list)
    remarks = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                     related_name="+")
    published_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["spec", "unit", "period_start", "period_end"],
                                               condition=~Q(spec=""), name="scheduled_bulletin_once")]

    def __str__(self) -> str:
        return self.title


class ReportRun(models.Model):
    """A report generated for a period (by the schedule or by a person), kept as delivered."""

    spec = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    layout = models.CharField(max_length=20)
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    due_date = models.DateField(null=True)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    generated_at = models.DateTimeField()
    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                     related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["spec", "unit", "period_start", "period_end"],
                                               name="report_run_once")]

    def __str__(self) -> str:
        return f"{self.name} {self.period_start}–{self.period_end}"
