"""The cases app's 18 migrations (0001_initial … 0018_event_case_index_once) in one: one
CreateModel per model, written from the state the old chain ends in, then what the old chain did
in SQL outside the models' state. Django applies it only to a database where none of the replaced
migrations is applied, so its tables are new and empty: the old chain's data migrations (0012's
`fill`, 0013's `fill_in`, 0015's `seal_existing`, which seal and fill existing rows) have nothing
to do here and are left out (0015's `seal_existing` stays importable from its own file). A database
with some of them applied goes on through the old files. docs/migrations.md: how it was made and
checked, and when the old files may go."""

import django.db.models.deletion
import huiyin.cases.models
import huiyin.org.fields
from django.conf import settings
from django.db import migrations, models

# 0003: timeline events are append-only on PostgreSQL (SQLite: Event.save/delete refuse).
EVENTS_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION cases_event_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'cases_event is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cases_event_no_update BEFORE UPDATE OR DELETE ON cases_event
  FOR EACH ROW EXECUTE FUNCTION cases_event_append_only();
"""
EVENTS_APPEND_ONLY_UNDO = """
DROP TRIGGER IF EXISTS cases_event_no_update ON cases_event;
DROP FUNCTION IF EXISTS cases_event_append_only();
"""

# Indexes outside the models' state, PostgreSQL only:
# - 0007: the subject's trigram index (pg_trgm is a trusted extension, PostgreSQL >= 13);
# - 0014: the staff pages' indexes. On SQLite the old chain lost them: 0015 and 0016 rebuild
#   cases_case to change its columns, and a rebuild keeps only the indexes of the models' state.
#   0014's index on the complainant's name is not here: 0015 drops it;
# - 0017: the case's key with its units beside it (INCLUDE).
POSTGRESQL_INDEXES = {
    "case_subject_trgm": "ON cases_case USING gin (UPPER(subject) gin_trgm_ops)",
    "case_state_due": "ON cases_case (state, next_due_at, id)",
    "case_compensation_status": "ON cases_case (compensation_status, id)",
    "case_registered_by_state": "ON cases_case (registered_by_id, state)",
    "case_id_units": "ON cases_case (id) INCLUDE (owner_unit_id, unit_id)",
}


def postgresql_only(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(EVENTS_APPEND_ONLY)
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, definition in POSTGRESQL_INDEXES.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} {definition}")


def postgresql_only_undo(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        for name in POSTGRESQL_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        schema_editor.execute(EVENTS_APPEND_ONLY_UNDO)


class Migration(migrations.Migration):

    replaces = [('cases', '0001_initial'), ('cases', '0002_initial'), ('cases', '0003_events_append_only'), ('cases', '0004_joint_cases_and_return_dispute'), ('cases', '0005_rules_and_repeats'), ('cases', '0006_category_class'), ('cases', '0007_subject_trigram'), ('cases', '0008_invalid_code'), ('cases', '0009_open_cases_index'), ('cases', '0010_compensation_status'), ('cases', '0011_close_reason_and_compensation_choices'), ('cases', '0012_case_next_deadline'), ('cases', '0013_clock_anchors_cycles_approvers_respondents'), ('cases', '0014_staff_list_indexes'), ('cases', '0015_identity_sealed_with_search_hashes'), ('cases', '0016_channels_recording_notices_documents'), ('cases', '0017_unit_indexes_covering_scope'), ('cases', '0018_event_case_index_once')]

    initial = True

    dependencies = [
        ('org', '0006_merge_0004_duty_shifts_0005_audit_append_only'),
        ('policies', '0002_policy_origin'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CaseSequence',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('prefix', models.CharField(max_length=4)),
                ('day', models.DateField()),
                ('last', models.PositiveIntegerField(default=0)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('prefix', 'day'), name='case_sequence_prefix_day')],
            },
        ),
        migrations.CreateModel(
            name='Category',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(max_length=64, unique=True, verbose_name='代码')),
                ('name', models.CharField(max_length=100, verbose_name='名称')),
                ('active', models.BooleanField(default=True, verbose_name='启用')),
                ('position', models.PositiveIntegerField(default=0)),
                ('parent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='children', to='cases.category')),
                ('case_class', models.CharField(blank=True, max_length=4, verbose_name='等级')),
                ('compensation', models.CharField(blank=True, max_length=200, verbose_name='赔偿标准')),
            ],
            options={
                'verbose_name': '分类',
                'verbose_name_plural': '分类',
                'ordering': ['position', 'code'],
            },
        ),
        migrations.CreateModel(
            name='Case',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.CharField(max_length=20, unique=True, verbose_name='编号')),
                ('kind', models.CharField(choices=[('complaint', '投诉'), ('consultation', '咨询'), ('suggestion', '建议'), ('report', '举报'), ('praise', '表扬'), ('employee_complaint', '员工投诉')], max_length=20, verbose_name='类型')),
                ('channel', models.CharField(choices=[('phone', '电话热线'), ('web', '网站'), ('email', '电子邮件'), ('letter', '信函'), ('fax', '传真'), ('walk_in', '来访'), ('sms', '短信'), ('wechat', '微信/APP'), ('api', '接口'), ('upstream', '上级转办'), ('regulator', '监管转办')], max_length=20, verbose_name='渠道')),
                ('state', models.CharField(choices=[('registered', '已登记'), ('pending_approval', '待批示'), ('dispatched', '已派单'), ('accepted', '处理中'), ('suspended', '挂起'), ('returned', '已退单'), ('plan_approval', '方案审批'), ('result_submitted', '已反馈'), ('pending_callback', '待回访'), ('closed', '已办结'), ('invalid', '不予受理')], default='registered', max_length=20, verbose_name='状态')),
                ('round', models.PositiveSmallIntegerField(default=1, verbose_name='派单轮次')),
                ('version', models.PositiveIntegerField(default=1)),
                ('subject', models.CharField(max_length=200, verbose_name='主题')),
                ('description', models.TextField(blank=True, max_length=20000, verbose_name='内容')),
                ('demands', models.TextField(blank=True, max_length=5000, verbose_name='诉求')),
                ('occurred_at', models.DateTimeField(blank=True, null=True, verbose_name='发生时间')),
                ('product', models.CharField(blank=True, max_length=200, verbose_name='产品/服务')),
                ('amount', models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True, verbose_name='涉及金额')),
                ('people_count', models.PositiveIntegerField(default=1, verbose_name='涉及人数')),
                ('flags', models.JSONField(blank=True, default=list, verbose_name='风险标记')),
                ('tags', models.JSONField(blank=True, default=list, verbose_name='标签')),
                ('complainant_name', huiyin.org.fields.SealedTextField(blank=True, verbose_name='投诉人')),
                ('complainant_phone', huiyin.org.fields.SealedTextField(blank=True, verbose_name='电话')),
                ('complainant_email', huiyin.org.fields.SealedTextField(blank=True, verbose_name='邮箱')),
                ('complainant_address', huiyin.org.fields.SealedTextField(blank=True, verbose_name='地址')),
                ('complainant_account', huiyin.org.fields.SealedTextField(blank=True, verbose_name='账号/合同/订单号')),
                ('complainant_id_number', huiyin.org.fields.SealedTextField(blank=True, verbose_name='证件号')),
                ('customer_class', models.CharField(blank=True, choices=[('', '未分级'), ('A', 'A'), ('B', 'B'), ('C', 'C'), ('D', 'D')], max_length=1, verbose_name='客户等级')),
                ('anonymous', models.BooleanField(default=False, verbose_name='匿名')),
                ('severity', models.CharField(choices=[('general', '一般'), ('difficult', '疑难'), ('major', '重大')], default='general', max_length=20, verbose_name='严重程度')),
                ('case_class', models.CharField(blank=True, max_length=4, verbose_name='等级')),
                ('validity', models.CharField(blank=True, choices=[('', '未判定'), ('valid', '有效'), ('invalid', '无效')], max_length=10, verbose_name='有效性')),
                ('invalid_reason', models.CharField(blank=True, max_length=500, verbose_name='无效原因')),
                ('liability', models.CharField(blank=True, choices=[('', '未明确'), ('enterprise', '企业责任'), ('customer', '客户责任'), ('third_party', '第三方责任')], max_length=20, verbose_name='责任')),
                ('instructions', models.TextField(blank=True, verbose_name='派单意见')),
                ('received_at', models.DateTimeField(verbose_name='受理时间')),
                ('upstream_ref', models.CharField(blank=True, max_length=64, verbose_name='上级工单号')),
                ('upstream_due_at', models.DateTimeField(blank=True, null=True, verbose_name='上级时限')),
                ('cause', models.TextField(blank=True, verbose_name='原因')),
                ('course', models.TextField(blank=True, verbose_name='经过')),
                ('responsible_person', models.CharField(blank=True, max_length=100, verbose_name='责任人')),
                ('conclusion', models.TextField(blank=True, verbose_name='结论')),
                ('countermeasures', models.TextField(blank=True, verbose_name='对策与防范措施')),
                ('reply', models.TextField(blank=True, verbose_name='答复内容')),
                ('compensation_amount', models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True)),
                ('compensation_form', models.CharField(blank=True, max_length=100)),
                ('satisfaction', models.CharField(blank=True, choices=[('very_satisfied', '非常满意'), ('satisfied', '满意'), ('neutral', '基本满意/一般'), ('unsatisfied', '不满意'), ('unreachable', '未联系上')], max_length=20, verbose_name='满意度')),
                ('callback_attempts', models.PositiveSmallIntegerField(default=0)),
                ('urge_count', models.PositiveIntegerField(default=0)),
                ('escalated', models.BooleanField(default=False)),
                ('supervised', models.BooleanField(default=False, verbose_name='督办')),
                ('appeal', models.BooleanField(default=False)),
                ('close_reason', models.CharField(blank=True, choices=[('', ''), ('callback', 'closed after callback'), ('signoff', 'closed'), ('no_callback', 'closed without callback'), ('resolved_on_spot', 'answered on the spot'), ('unreachable', 'customer unreachable'), ('merged', 'merged'), ('transferred', 'transferred out'), ('invalid', 'invalid'), ('appeal_rejected', 'appeal rejected'), ('withdrawn', 'withdrawn')], max_length=30)),
                ('transfer_authority', models.CharField(blank=True, max_length=200)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('closed_at', models.DateTimeField(blank=True, null=True)),
                ('merged_into', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='cases.case')),
                ('owner_unit', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='org.unit', verbose_name='受理单位')),
                ('policy', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='policies.policy')),
                ('proposed_unit', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='org.unit')),
                ('registered_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='受理人')),
                ('unit', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='org.unit', verbose_name='承办单位')),
                ('category', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='cases.category')),
                ('proposed_co_units', models.JSONField(blank=True, default=list)),
                ('return_disputed', models.BooleanField(default=False, verbose_name='退单异议')),
                ('region', models.CharField(blank=True, max_length=100, verbose_name='区域')),
                ('repeat_of', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='cases.case', verbose_name='重复投诉')),
                ('reply_level', models.PositiveSmallIntegerField(default=0)),
                ('requires_approval', models.BooleanField(default=False, verbose_name='需领导批示')),
                ('invalid_code', models.CharField(blank=True, choices=[('target_unclear', '投诉对象、内容不明确,无法查实'), ('contradicted_by_facts', '经查证与事实严重不符'), ('beyond_commitments', '超出公司的服务承诺'), ('unlawful', '不符合法律法规规定'), ('other', '其他')], max_length=30, verbose_name='无效类别')),
                ('compensation_status', models.CharField(blank=True, choices=[('', '无'), ('requested', '待审批'), ('approved', '已批准'), ('refused', '未批准')], max_length=10, verbose_name='赔偿审批')),
                ('next_due_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='当前时限')),
                ('next_remind_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('acknowledged_at', models.DateTimeField(blank=True, null=True, verbose_name='签收时间')),
                ('approval_level', models.PositiveSmallIntegerField(default=0)),
                ('awaiting', models.CharField(blank=True, max_length=50, verbose_name='待审批角色')),
                ('cycle', models.PositiveSmallIntegerField(default=1, verbose_name='办理周期')),
                ('dispatched_at', models.DateTimeField(blank=True, null=True, verbose_name='派单时间')),
                ('recusal', models.BooleanField(default=False, verbose_name='回避')),
                ('reopened_at', models.DateTimeField(blank=True, null=True, verbose_name='重办时间')),
                ('representatives', huiyin.org.fields.SealedJSONField(blank=True, default=list, verbose_name='代表')),
                ('respondent_person', models.CharField(blank=True, max_length=100, verbose_name='被投诉人')),
                ('respondent_unit', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='org.unit', verbose_name='被投诉单位')),
                ('result_at', models.DateTimeField(blank=True, null=True, verbose_name='反馈时间')),
                ('anonymised_groups', models.JSONField(blank=True, default=list)),
                ('anonymised_at', models.DateTimeField(blank=True, null=True, verbose_name='匿名化时间')),
                ('complainant_account_hash', models.CharField(blank=True, default='', editable=False, max_length=32)),
                ('complainant_email_hash', models.CharField(blank=True, default='', editable=False, max_length=32)),
                ('complainant_id_number_hash', models.CharField(blank=True, default='', editable=False, max_length=32)),
                ('complainant_name_hash', models.CharField(blank=True, default='', editable=False, max_length=32)),
                ('complainant_phone_hash', models.CharField(blank=True, default='', editable=False, max_length=32)),
                ('privacy_notice', models.CharField(blank=True, max_length=50, verbose_name='隐私告知版本')),
                ('notify_via', models.CharField(blank=True, choices=[('', '未选择'), ('portal', '网站查询'), ('email', '电子邮件'), ('sms', '短信'), ('post', '邮寄')], max_length=10, verbose_name='告知方式')),
                ('recording_ref', models.CharField(blank=True, max_length=200, verbose_name='录音编号')),
                ('reopen_requested_at', models.DateTimeField(blank=True, null=True, verbose_name='申请重办时间')),
            ],
            options={
                'verbose_name': '工单',
                'verbose_name_plural': '工单',
                'indexes': [models.Index(fields=['state', '-id'], name='case_state_id'), models.Index(fields=['unit', '-id'], name='case_unit_id'), models.Index(fields=['owner_unit', '-id'], name='case_owner_id'), models.Index(fields=['kind', '-id'], name='case_kind_id'), models.Index(fields=['severity', '-id'], name='case_severity_id'), models.Index(fields=['received_at'], name='case_received'), models.Index(condition=models.Q(('state__in', ['closed', 'invalid']), _negated=True), fields=['received_at'], name='case_open_received'), models.Index(condition=models.Q(('next_due_at__isnull', False)), fields=['next_due_at', 'id'], name='case_next_due'), models.Index(fields=['complainant_phone_hash', 'id'], name='case_phone_hash'), models.Index(fields=['complainant_name_hash', 'id'], name='case_name_hash'), models.Index(fields=['complainant_email_hash'], name='case_email_hash'), models.Index(fields=['complainant_account_hash'], name='case_account_hash'), models.Index(fields=['complainant_id_number_hash'], name='case_id_number_hash'), models.Index(condition=models.Q(('anonymised_at__isnull', True), ('closed_at__isnull', False)), fields=['closed_at'], name='case_retention_due')],
            },
        ),
        migrations.CreateModel(
            name='Attachment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token', models.CharField(max_length=32, unique=True)),
                ('file', models.FileField(max_length=300, upload_to=huiyin.cases.models.attachment_path)),
                ('name', huiyin.org.fields.SealedTextField()),
                ('content_type', models.CharField(max_length=100)),
                ('size', models.PositiveIntegerField()),
                ('sha256', models.CharField(max_length=64)),
                ('uploaded_at', models.DateTimeField(auto_now_add=True)),
                ('uploaded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attachments', to='cases.case')),
                ('confidential', models.BooleanField(default=False)),
                ('sealed', models.BooleanField(default=False)),
            ],
        ),
        migrations.CreateModel(
            name='CaseLink',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(default='related', max_length=20)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='links_out', to='cases.case')),
                ('to', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='links_in', to='cases.case')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('case', 'to'), name='case_link_unique')],
            },
        ),
        migrations.CreateModel(
            name='Event',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action', models.CharField(max_length=40)),
                ('at', models.DateTimeField()),
                ('from_state', models.CharField(blank=True, max_length=20)),
                ('to_state', models.CharField(blank=True, max_length=20)),
                ('changes', models.JSONField(default=dict)),
                ('comment', models.TextField(blank=True)),
                ('source', models.CharField(blank=True, max_length=20)),
                ('ip', models.GenericIPAddressField(blank=True, null=True)),
                ('actor', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('case', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='cases.case')),
            ],
            options={
                'verbose_name': '处理记录',
                'verbose_name_plural': '处理记录',
                'ordering': ['id'],
                'indexes': [models.Index(fields=['case', 'id'], name='event_case_id')],
            },
        ),
        migrations.CreateModel(
            name='Extension',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('round', models.PositiveSmallIntegerField()),
                ('amount', models.PositiveIntegerField()),
                ('unit', models.CharField(max_length=20)),
                ('reason', models.TextField()),
                ('status', models.CharField(choices=[('requested', '待审批'), ('granted', '已批准'), ('refused', '未批准')], default='requested', max_length=10)),
                ('requested_at', models.DateTimeField()),
                ('decided_at', models.DateTimeField(blank=True, null=True)),
                ('case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='extensions', to='cases.case')),
                ('decided_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('requested_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('approver', models.CharField(default='leader', max_length=50)),
                ('timer', models.CharField(default='resolve', max_length=20)),
            ],
            options={
                'constraints': [models.UniqueConstraint(condition=models.Q(('status', 'requested')), fields=('case',), name='one_pending_extension_per_case')],
            },
        ),
        migrations.CreateModel(
            name='IdempotencyKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=200)),
                ('body_hash', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cases.case')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('user', 'key'), name='idempotency_user_key')],
            },
        ),
        migrations.CreateModel(
            name='Timer',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.CharField(max_length=20)),
                ('round', models.PositiveSmallIntegerField(default=1)),
                ('state', models.CharField(choices=[('running', '计时中'), ('paused', '暂停'), ('met', '按时完成'), ('breached', '超期'), ('cancelled', '已取消')], default='running', max_length=10)),
                ('amount', models.PositiveIntegerField()),
                ('unit', models.CharField(max_length=20)),
                ('basis', models.CharField(blank=True, max_length=300)),
                ('started_at', models.DateTimeField()),
                ('due_at', models.DateTimeField()),
                ('provisional', models.BooleanField(default=False)),
                ('capped_by_upstream', models.BooleanField(default=False)),
                ('adjustments', models.JSONField(default=list)),
                ('paused_at', models.DateTimeField(blank=True, null=True)),
                ('stopped_at', models.DateTimeField(blank=True, null=True)),
                ('breached_at', models.DateTimeField(blank=True, null=True)),
                ('breach_seconds', models.PositiveIntegerField(blank=True, null=True)),
                ('reminded_at', models.DateTimeField(blank=True, null=True)),
                ('case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='timers', to='cases.case')),
                ('co_unit', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='org.unit')),
                ('remind_at', models.DateTimeField(blank=True, null=True)),
                ('capped_by', models.CharField(blank=True, max_length=20)),
                ('cycle', models.PositiveSmallIntegerField(default=1)),
                ('role', models.CharField(blank=True, max_length=50)),
            ],
            options={
                'verbose_name': '时限',
                'verbose_name_plural': '时限',
                'indexes': [models.Index(condition=models.Q(('state', 'running')), fields=['due_at'], name='timer_running_due'), models.Index(condition=models.Q(('stopped_at__isnull', True)), fields=['due_at', 'case'], name='timer_open_due'), models.Index(condition=models.Q(('provisional', True)), fields=['provisional'], name='timer_provisional'), models.Index(condition=models.Q(('reminded_at__isnull', True), ('state', 'running')), fields=['remind_at'], name='timer_remind_due')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('co_unit__isnull', True), ('stopped_at__isnull', True)), fields=('case', 'code'), name='one_open_timer_per_code'), models.UniqueConstraint(condition=models.Q(('co_unit__isnull', False), ('stopped_at__isnull', True)), fields=('case', 'code', 'co_unit'), name='one_open_co_timer_per_code')],
            },
        ),
        migrations.CreateModel(
            name='CoHandling',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('round', models.PositiveSmallIntegerField()),
                ('active', models.BooleanField(default=True)),
                ('acknowledged_at', models.DateTimeField(blank=True, null=True)),
                ('submitted_at', models.DateTimeField(blank=True, null=True)),
                ('result', models.TextField(blank=True)),
                ('case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='co_handlings', to='cases.case')),
                ('unit', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='org.unit')),
                ('cycle', models.PositiveSmallIntegerField(default=1)),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('active', True)), fields=['unit', 'case'], name='co_handling_active')],
                'constraints': [models.UniqueConstraint(fields=('case', 'unit', 'cycle', 'round'), name='co_handling_unique')],
            },
        ),
        migrations.CreateModel(
            name='RuleHit',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('rule', models.CharField(max_length=100)),
                ('at', models.DateTimeField()),
                ('case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rule_hits', to='cases.case')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('case', 'rule'), name='rule_hit_once')],
            },
        ),
        migrations.CreateModel(
            name='CaseDocument',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('acceptance_notice', '受理告知书'), ('rejection_notice', '不予受理告知书'), ('transfer_letter', '转办函'), ('reply', '答复意见书'), ('callback_record', '回访记录'), ('record_form', '记录表'), ('walk_in_record', '来访登记表')], max_length=30, verbose_name='文书')),
                ('cycle', models.PositiveSmallIntegerField(default=1)),
                ('number', models.CharField(max_length=80, unique=True, verbose_name='文号')),
                ('issued_at', models.DateTimeField(verbose_name='出具时间')),
                ('sent_via', models.CharField(blank=True, choices=[('', '未选择'), ('portal', '网站查询'), ('email', '电子邮件'), ('sms', '短信'), ('post', '邮寄')], max_length=10, verbose_name='送达方式')),
                ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='送达时间')),
                ('case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='documents', to='cases.case')),
                ('issued_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': '文书',
                'verbose_name_plural': '文书',
                'constraints': [models.UniqueConstraint(fields=('case', 'kind', 'cycle'), name='case_document_once')],
            },
        ),
        migrations.RunPython(postgresql_only, postgresql_only_undo),
    ]
