# Notices: an event's context stored once; inbox items and messages rendered from it later.

import django.core.serializers.json
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notify', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='Notice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event', models.CharField(choices=[('case.created', '新工单'), ('case.dispatched', '工单派发'), ('case.acknowledged', '工单签收'), ('case.reminder', '办理时限提醒'), ('case.breached', '工单超期'), ('case.escalated', '工单升级'), ('case.urged', '工单催办'), ('case.result_submitted', '办理结果已反馈'), ('case.callback_due', '工单待回访'), ('case.extension_requested', '延期申请'), ('case.approval_needed', '工单待批示'), ('case.major_opened', '重大工单'), ('case.closed', '工单办结')], max_length=40, verbose_name='事件')),
                ('case_number', models.CharField(blank=True, max_length=40, verbose_name='工单编号')),
                ('context', models.JSONField(blank=True, default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder, verbose_name='数据')),
                ('recipients', models.JSONField(blank=True, default=list, verbose_name='接收人')),
                ('urgent', models.BooleanField(default=False, verbose_name='紧急')),
                ('dedupe_key', models.CharField(max_length=255, unique=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='创建时间')),
                ('fanned_out_at', models.DateTimeField(blank=True, null=True, verbose_name='分发时间')),
            ],
            options={
                'verbose_name': '通知事件',
                'verbose_name_plural': '通知事件',
                'indexes': [models.Index(condition=models.Q(('fanned_out_at__isnull', True)), fields=['id'], name='notify_notice_pending')],
            },
        ),
        # Message.payload becomes Message.extra in Python (the column keeps its name):
        # `payload` is now a property that adds the notice's context.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameField(model_name='message', old_name='payload', new_name='extra'),
                migrations.AlterField(
                    model_name='message',
                    name='extra',
                    field=models.JSONField(blank=True, db_column='payload', default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder, verbose_name='附加数据'),
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterField(
            model_name='inboxitem',
            name='title',
            field=models.CharField(blank=True, max_length=200, verbose_name='标题'),
        ),
        migrations.AddField(
            model_name='inboxitem',
            name='notice',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='inbox_items', to='notify.notice', verbose_name='通知事件'),
        ),
        migrations.AddField(
            model_name='message',
            name='notice',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='messages', to='notify.notice', verbose_name='通知事件'),
        ),
    ]
