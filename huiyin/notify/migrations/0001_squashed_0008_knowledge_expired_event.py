"""The notify app's 10 migrations (0001_initial … 0008_knowledge_expired_event, two merges among
them) in one: one CreateModel per model, written from the state the old chain ends in
(Message.extra keeps its column `payload`, 0002). Django applies it only to a database where none
of the replaced migrations is applied, so its tables are new and empty: 0003's `seal_existing`
(sealing secrets stored in clear) has nothing to do here and is left out. docs/migrations.md: how
it was made and checked, and when the old files may go."""

import datetime
import django.core.serializers.json
import django.db.models.deletion
import django.utils.timezone
import huiyin.org.fields
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('notify', '0001_initial'), ('notify', '0002_notices'), ('notify', '0003_secrets_sealed'), ('notify', '0003_notice_transports'), ('notify', '0004_merge_0003_notice_transports_0003_secrets_sealed'), ('notify', '0005_report_events'), ('notify', '0005_complainant_addresses'), ('notify', '0006_merge_0005_complainant_addresses_0005_report_events'), ('notify', '0007_events_of_reports_and_portal'), ('notify', '0008_knowledge_expired_event')]

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='NotifySettings',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('quiet_hours_enabled', models.BooleanField(default=False, verbose_name='启用免打扰时段')),
                ('quiet_start', models.TimeField(default=datetime.time(22, 0), verbose_name='免打扰开始')),
                ('quiet_end', models.TimeField(default=datetime.time(8, 0), verbose_name='免打扰结束')),
            ],
            options={
                'verbose_name': '通知设置',
                'verbose_name_plural': '通知设置',
            },
        ),
        migrations.CreateModel(
            name='TransportConfig',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('transport', models.CharField(choices=[('email', '电子邮件'), ('sms', '短信'), ('wecom', '企业微信群机器人'), ('dingtalk', '钉钉群机器人'), ('feishu', '飞书群机器人')], max_length=20, unique=True, verbose_name='发送方式')),
                ('enabled', models.BooleanField(default=False, verbose_name='启用')),
                ('options', huiyin.org.fields.SealedJSONObjectField(blank=True, default=dict, verbose_name='参数')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='修改时间')),
            ],
            options={
                'verbose_name': '发送方式配置',
                'verbose_name_plural': '发送方式配置',
                'ordering': ['transport'],
            },
        ),
        migrations.CreateModel(
            name='Webhook',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('url', models.URLField(max_length=500, verbose_name='地址')),
                ('secret', huiyin.org.fields.SealedTextField(verbose_name='签名密钥')),
                ('events', models.JSONField(blank=True, default=list, verbose_name='订阅事件')),
                ('active', models.BooleanField(default=True, verbose_name='启用')),
                ('description', models.CharField(blank=True, max_length=200, verbose_name='说明')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='创建时间')),
            ],
            options={
                'verbose_name': 'Webhook',
                'verbose_name_plural': 'Webhook',
                'ordering': ['id'],
            },
        ),
        migrations.CreateModel(
            name='Preference',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('transport', models.CharField(choices=[('email', '电子邮件'), ('sms', '短信')], max_length=20, verbose_name='发送方式')),
                ('enabled', models.BooleanField(default=True, verbose_name='接收')),
                ('address', models.CharField(blank=True, help_text='留空则使用用户资料中的邮箱或手机', max_length=200, verbose_name='接收地址')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notify_preferences', to=settings.AUTH_USER_MODEL, verbose_name='用户')),
            ],
            options={
                'verbose_name': '通知偏好',
                'verbose_name_plural': '通知偏好',
                'constraints': [models.UniqueConstraint(fields=('user', 'transport'), name='notify_preference_unique')],
            },
        ),
        migrations.CreateModel(
            name='Template',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event', models.CharField(choices=[('case.created', '新工单'), ('case.dispatched', '工单派发'), ('case.acknowledged', '工单签收'), ('case.reminder', '办理时限提醒'), ('case.breached', '工单超期'), ('case.escalated', '工单升级'), ('case.urged', '工单催办'), ('case.result_submitted', '办理结果已反馈'), ('case.callback_due', '工单待回访'), ('case.extension_requested', '延期申请'), ('case.approval_needed', '工单待批示'), ('case.major_opened', '重大工单'), ('case.closed', '工单办结'), ('report.ready', '统计报告已生成'), ('bulletin.published', '通报已发布'), ('warning.raised', '预警'), ('penalty.recorded', '考核记录'), ('penalty.appealed', '考核申诉'), ('action.overdue', '整改措施逾期'), ('knowledge.expired', '知识条目失效'), ('case.reopen_requested', '投诉人申请重办'), ('case.information_added', '投诉人补充材料'), ('complainant.notice', '告知投诉人')], max_length=40, verbose_name='事件')),
                ('transport', models.CharField(choices=[('inbox', '站内信'), ('email', '电子邮件'), ('sms', '短信'), ('robot', '群机器人')], max_length=20, verbose_name='发送方式')),
                ('subject', models.CharField(blank=True, max_length=200, verbose_name='标题模板')),
                ('body', models.TextField(verbose_name='内容模板')),
                ('gateway_template_id', models.CharField(blank=True, max_length=64, verbose_name='短信平台模板编号')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='修改时间')),
                ('last_error', models.TextField(blank=True, verbose_name='最近渲染错误')),
                ('last_error_at', models.DateTimeField(blank=True, null=True, verbose_name='出错时间')),
            ],
            options={
                'verbose_name': '通知模板',
                'verbose_name_plural': '通知模板',
                'ordering': ['event', 'transport'],
                'constraints': [models.UniqueConstraint(fields=('event', 'transport'), name='notify_template_unique')],
            },
        ),
        migrations.CreateModel(
            name='Notice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event', models.CharField(choices=[('case.created', '新工单'), ('case.dispatched', '工单派发'), ('case.acknowledged', '工单签收'), ('case.reminder', '办理时限提醒'), ('case.breached', '工单超期'), ('case.escalated', '工单升级'), ('case.urged', '工单催办'), ('case.result_submitted', '办理结果已反馈'), ('case.callback_due', '工单待回访'), ('case.extension_requested', '延期申请'), ('case.approval_needed', '工单待批示'), ('case.major_opened', '重大工单'), ('case.closed', '工单办结'), ('report.ready', '统计报告已生成'), ('bulletin.published', '通报已发布'), ('warning.raised', '预警'), ('penalty.recorded', '考核记录'), ('penalty.appealed', '考核申诉'), ('action.overdue', '整改措施逾期'), ('knowledge.expired', '知识条目失效'), ('case.reopen_requested', '投诉人申请重办'), ('case.information_added', '投诉人补充材料'), ('complainant.notice', '告知投诉人')], max_length=40, verbose_name='事件')),
                ('case_number', models.CharField(blank=True, max_length=40, verbose_name='工单编号')),
                ('context', models.JSONField(blank=True, default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder, verbose_name='数据')),
                ('recipients', models.JSONField(blank=True, default=list, verbose_name='接收人')),
                ('urgent', models.BooleanField(default=False, verbose_name='紧急')),
                ('dedupe_key', models.CharField(max_length=255, unique=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='创建时间')),
                ('fanned_out_at', models.DateTimeField(blank=True, null=True, verbose_name='分发时间')),
                ('transports', models.JSONField(blank=True, default=dict, verbose_name='指定渠道')),
                ('addresses', models.JSONField(blank=True, default=list, verbose_name='外部地址')),
            ],
            options={
                'verbose_name': '通知事件',
                'verbose_name_plural': '通知事件',
                'indexes': [models.Index(condition=models.Q(('fanned_out_at__isnull', True)), fields=['id'], name='notify_notice_pending')],
            },
        ),
        migrations.CreateModel(
            name='Message',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('delivery_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name='投递编号')),
                ('event', models.CharField(choices=[('case.created', '新工单'), ('case.dispatched', '工单派发'), ('case.acknowledged', '工单签收'), ('case.reminder', '办理时限提醒'), ('case.breached', '工单超期'), ('case.escalated', '工单升级'), ('case.urged', '工单催办'), ('case.result_submitted', '办理结果已反馈'), ('case.callback_due', '工单待回访'), ('case.extension_requested', '延期申请'), ('case.approval_needed', '工单待批示'), ('case.major_opened', '重大工单'), ('case.closed', '工单办结'), ('report.ready', '统计报告已生成'), ('bulletin.published', '通报已发布'), ('warning.raised', '预警'), ('penalty.recorded', '考核记录'), ('penalty.appealed', '考核申诉'), ('action.overdue', '整改措施逾期'), ('knowledge.expired', '知识条目失效'), ('case.reopen_requested', '投诉人申请重办'), ('case.information_added', '投诉人补充材料'), ('complainant.notice', '告知投诉人')], max_length=40, verbose_name='事件')),
                ('case_number', models.CharField(blank=True, db_index=True, max_length=40, verbose_name='工单编号')),
                ('transport', models.CharField(choices=[('email', '电子邮件'), ('sms', '短信'), ('wecom', '企业微信群机器人'), ('dingtalk', '钉钉群机器人'), ('feishu', '飞书群机器人'), ('webhook', 'Webhook')], max_length=20, verbose_name='发送方式')),
                ('address', models.CharField(blank=True, max_length=500, verbose_name='地址')),
                ('subject', models.CharField(blank=True, max_length=200, verbose_name='标题')),
                ('body', models.TextField(blank=True, verbose_name='内容')),
                ('extra', models.JSONField(blank=True, db_column='payload', default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder, verbose_name='附加数据')),
                ('dedupe_key', models.CharField(max_length=255, unique=True)),
                ('urgent', models.BooleanField(default=False, verbose_name='紧急')),
                ('status', models.CharField(choices=[('pending', '待发送'), ('sending', '发送中'), ('sent', '已发送'), ('failed', '失败待重试'), ('dead', '投递失败')], default='pending', max_length=10, verbose_name='状态')),
                ('attempts', models.PositiveIntegerField(default=0, verbose_name='尝试次数')),
                ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='下次尝试')),
                ('claimed_by', models.CharField(blank=True, max_length=100, verbose_name='处理进程')),
                ('claimed_until', models.DateTimeField(blank=True, null=True, verbose_name='租约到期')),
                ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='发送时间')),
                ('last_error', models.TextField(blank=True, verbose_name='最近错误')),
                ('render_error', models.TextField(blank=True, verbose_name='模板错误')),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='创建时间')),
                ('recipient', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='notify_messages', to=settings.AUTH_USER_MODEL, verbose_name='接收人')),
                ('notice', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='messages', to='notify.notice', verbose_name='通知事件')),
            ],
            options={
                'verbose_name': '通知消息',
                'verbose_name_plural': '通知消息',
                'indexes': [models.Index(condition=models.Q(('status__in', ['pending', 'failed'])), fields=['next_attempt_at', 'id'], name='notify_message_due'), models.Index(condition=models.Q(('status', 'sending')), fields=['claimed_until', 'id'], name='notify_message_leased')],
            },
        ),
        migrations.CreateModel(
            name='Attempt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='时间')),
                ('transport', models.CharField(choices=[('email', '电子邮件'), ('sms', '短信'), ('wecom', '企业微信群机器人'), ('dingtalk', '钉钉群机器人'), ('feishu', '飞书群机器人'), ('webhook', 'Webhook')], max_length=20, verbose_name='发送方式')),
                ('outcome', models.CharField(choices=[('ok', '成功'), ('error', '失败')], max_length=10, verbose_name='结果')),
                ('permanent', models.BooleanField(default=False, verbose_name='不再重试')),
                ('error', models.TextField(blank=True, verbose_name='错误')),
                ('duration_ms', models.PositiveIntegerField(default=0, verbose_name='耗时(毫秒)')),
                ('worker', models.CharField(blank=True, max_length=100, verbose_name='处理进程')),
                ('message', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempt_rows', to='notify.message', verbose_name='通知消息')),
            ],
            options={
                'verbose_name': '投递记录',
                'verbose_name_plural': '投递记录',
                'ordering': ['-at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='InboxItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event', models.CharField(choices=[('case.created', '新工单'), ('case.dispatched', '工单派发'), ('case.acknowledged', '工单签收'), ('case.reminder', '办理时限提醒'), ('case.breached', '工单超期'), ('case.escalated', '工单升级'), ('case.urged', '工单催办'), ('case.result_submitted', '办理结果已反馈'), ('case.callback_due', '工单待回访'), ('case.extension_requested', '延期申请'), ('case.approval_needed', '工单待批示'), ('case.major_opened', '重大工单'), ('case.closed', '工单办结'), ('report.ready', '统计报告已生成'), ('bulletin.published', '通报已发布'), ('warning.raised', '预警'), ('penalty.recorded', '考核记录'), ('penalty.appealed', '考核申诉'), ('action.overdue', '整改措施逾期'), ('knowledge.expired', '知识条目失效'), ('case.reopen_requested', '投诉人申请重办'), ('case.information_added', '投诉人补充材料'), ('complainant.notice', '告知投诉人')], max_length=40, verbose_name='事件')),
                ('case_number', models.CharField(blank=True, max_length=40, verbose_name='工单编号')),
                ('title', models.CharField(blank=True, max_length=200, verbose_name='标题')),
                ('body', models.TextField(blank=True, verbose_name='内容')),
                ('dedupe_key', models.CharField(max_length=255, unique=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='时间')),
                ('read_at', models.DateTimeField(blank=True, null=True, verbose_name='已读时间')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='inbox_items', to=settings.AUTH_USER_MODEL, verbose_name='用户')),
                ('notice', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='inbox_items', to='notify.notice', verbose_name='通知事件')),
            ],
            options={
                'verbose_name': '站内信',
                'verbose_name_plural': '站内信',
                'indexes': [models.Index(fields=['user', '-id'], name='notify_inbox_user'), models.Index(condition=models.Q(('read_at', None)), fields=['user'], name='notify_inbox_unread')],
            },
        ),
    ]
