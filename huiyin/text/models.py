"""The text app's tables: the search index of cases and the trained suggestion models."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseText(models.Model):
    """A case's searchable text as index words separated by spaces (`tokens.index_tokens`).

    Kept by `index.case_written` in the transaction of every change that makes it stale. The
    full-text index over `tokens` is the database's own: an FTS5 table `text_casetext_fts` kept by
    triggers on SQLite, a generated `tsvector` column with a GIN index on PostgreSQL (migration 0001)."""

    case = models.OneToOneField("cases.Case", primary_key=True, on_delete=models.CASCADE, related_name="+")
    tokens = models.TextField(blank=True)
    preset = models.CharField(max_length=50, blank=True)  # whose dictionary cut the words
    indexed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("检索索引")
        verbose_name_plural = _("检索索引")

    def __str__(self) -> str:
        return f"case {self.case_id}"


class Target(models.TextChoices):
    CATEGORY = "category", _("分类")
    UNIT = "unit", _("承办单位")
    SEVERITY = "severity", _("严重程度")
    CUSTOM = "custom", _("自定义")  # trained from a CSV (`huiyin text train`)


class TextModel(models.Model):
    """One trained version of a suggestion model. The newest active version of a name is the one
    used; its quality on held-back cases (`metrics`) is shown to the administrator. A version the
    schedule trained is left inactive when its held-back quality is worse than the one in use
    (`suggest.retrain`, `metrics["kept"]` says which stayed)."""

    name = models.SlugField(_("名称"), max_length=64)
    version = models.PositiveIntegerField()
    target = models.CharField(_("预测对象"), max_length=20, choices=Target.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    rows = models.PositiveIntegerField(_("训练样本数"))
    labels = models.JSONField(default=list)
    metrics = models.JSONField(default=dict)  # accuracy, macro_f1, top3, held_back, train_seconds …
    config = models.JSONField(default=dict)  # features, language, temperature
    # The fitted pipeline, pickled and zlib-compressed. Written only by `classifier.train` from
    # this organisation's own data; read back only from this database (never from a file or a user).
    blob = models.BinaryField()
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("建议模型")
        verbose_name_plural = _("建议模型")
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="textmodel_name_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class RetrainRun(models.Model):
    """One retraining of the suggestion models from the closed cases (`huiyin text retrain`, by
    hand or launched by the worker's schedule, `jobs.retrain_sweep`). At most one runs at a time:
    a run is claimed by inserting a row with `running` set, which a partial unique index admits
    once (`jobs.claim`)."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    running = models.BooleanField(default=True)
    trigger = models.CharField(max_length=20)  # schedule | hand
    ok = models.BooleanField(null=True)  # None while running
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    outcome = models.TextField(blank=True)  # one line per target

    class Meta:
        verbose_name = _("模型重新训练")
        verbose_name_plural = _("模型重新训练")
        constraints = [models.UniqueConstraint(fields=["running"], condition=models.Q(running=True),
                                               name="text_one_retrain_at_a_time")]

    def __str__(self) -> str:
        return f"retraining {self.pk} ({self.trigger})"
