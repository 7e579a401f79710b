"""The policies app's migrations in one: one CreateModel per model, written from the state the old
chain ends in. docs/migrations.md: how it was made and checked, and when the old files may go."""

from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('policies', '0001_initial'), ('policies', '0002_policy_origin')]

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='Policy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.SlugField(verbose_name='名称')),
                ('version', models.PositiveIntegerField(default=1, verbose_name='版本')),
                ('title', models.CharField(blank=True, max_length=200, verbose_name='标题')),
                ('config', models.JSONField(default=dict, verbose_name='配置')),
                ('active', models.BooleanField(default=False, verbose_name='生效')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('origin', models.CharField(choices=[('preset', '预置'), ('file', '文件'), ('admin', '后台编辑')], default='preset', max_length=10, verbose_name='来源')),
            ],
            options={
                'verbose_name': '处理规则',
                'verbose_name_plural': '处理规则',
                'constraints': [models.UniqueConstraint(fields=('name', 'version'), name='policy_name_version'), models.UniqueConstraint(condition=models.Q(('active', True)), fields=('active',), name='one_active_policy')],
            },
        ),
    ]
