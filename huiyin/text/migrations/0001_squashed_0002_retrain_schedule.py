"""The text app's 2 migrations in one: one CreateModel per model, written from the state the old
chain ends in, then the search index's SQL objects (0001's `install`: the full-text table and its
triggers). docs/migrations.md: how it was made and checked, and when the old files may go."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from huiyin.text.index import CASES


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    for sql in CASES.install_sql(schema_editor.connection.vendor):
        schema_editor.execute(sql)


def uninstall(apps, schema_editor):  # type: ignore[no-untyped-def]
    for sql in CASES.uninstall_sql(schema_editor.connection.vendor):
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    replaces = [('text', '0001_search_index_and_models'), ('text', '0002_retrain_schedule')]

    initial = True

    dependencies = [
        ('cases', '0013_clock_anchors_cycles_approvers_respondents'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CaseText',
            fields=[
                ('case', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='cases.case')),
                ('tokens', models.TextField(blank=True)),
                ('preset', models.CharField(blank=True, max_length=50)),
                ('indexed_at', models.DateTimeField()),
            ],
            options={
                'verbose_name': '检索索引',
                'verbose_name_plural': '检索索引',
            },
        ),
        migrations.CreateModel(
            name='TextModel',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.SlugField(max_length=64, verbose_name='名称')),
                ('version', models.PositiveIntegerField()),
                ('target', models.CharField(choices=[('category', '分类'), ('unit', '承办单位'), ('severity', '严重程度'), ('custom', '自定义')], max_length=20, verbose_name='预测对象')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('rows', models.PositiveIntegerField(verbose_name='训练样本数')),
                ('labels', models.JSONField(default=list)),
                ('metrics', models.JSONField(default=dict)),
                ('config', models.JSONField(default=dict)),
                ('blob', models.BinaryField()),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('active', models.BooleanField(default=True)),
            ],
            options={
                'verbose_name': '建议模型',
                'verbose_name_plural': '建议模型',
                'constraints': [models.UniqueConstraint(fields=('name', 'version'), name='textmodel_name_version')],
            },
        ),
        migrations.CreateModel(
            name='RetrainRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('started_at', models.DateTimeField()),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('running', models.BooleanField(default=True)),
                ('trigger', models.CharField(max_length=20)),
                ('ok', models.BooleanField(null=True)),
                ('host', models.CharField(blank=True, max_length=255)),
                ('pid', models.IntegerField(blank=True, null=True)),
                ('outcome', models.TextField(blank=True)),
            ],
            options={
                'verbose_name': '模型重新训练',
                'verbose_name_plural': '模型重新训练',
                'constraints': [models.UniqueConstraint(condition=models.Q(('running', True)), fields=('running',), name='text_one_retrain_at_a_time')],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
