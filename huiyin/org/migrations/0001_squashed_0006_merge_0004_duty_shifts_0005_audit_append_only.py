"""The org app's 7 migrations (0001_initial … 0006_merge) in one: one CreateModel per model,
written from the state the old chain ends in, then the audit log's append-only trigger (0005).
Django applies it only to a database where none of the replaced migrations is applied, so its
tables are new and empty: 0004's `mark_tokens` (filling existing tokens' marks and audit entries'
actor names) has nothing to do here and is left out. docs/migrations.md: how it was made and
checked, and when the old files may go."""

import django.contrib.auth.models
import django.contrib.auth.validators
import django.db.models.deletion
import django.utils.timezone
import huiyin.org.fields
from django.conf import settings
from django.db import migrations, models

# 0005: the audit log is append-only on PostgreSQL.
AUDIT_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION org_auditentry_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'org_auditentry is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER org_auditentry_no_update BEFORE UPDATE OR DELETE ON org_auditentry
  FOR EACH ROW EXECUTE FUNCTION org_auditentry_append_only();
"""
AUDIT_APPEND_ONLY_UNDO = """
DROP TRIGGER IF EXISTS org_auditentry_no_update ON org_auditentry;
DROP FUNCTION IF EXISTS org_auditentry_append_only();
"""


def audit_append_only(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(AUDIT_APPEND_ONLY)


def audit_append_only_undo(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(AUDIT_APPEND_ONLY_UNDO)


class Migration(migrations.Migration):

    replaces = [('org', '0001_initial'), ('org', '0002_audit_log'), ('org', '0003_unit_customers'), ('org', '0004_tokens_sessions_mfa_audit'), ('org', '0005_audit_append_only'), ('org', '0004_duty_shifts'), ('org', '0006_merge_0004_duty_shifts_0005_audit_append_only')]

    initial = True

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
    ]

    operations = [
        migrations.CreateModel(
            name='User',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('password', models.CharField(max_length=128, verbose_name='password')),
                ('last_login', models.DateTimeField(blank=True, null=True, verbose_name='last login')),
                ('is_superuser', models.BooleanField(default=False, help_text='Designates that this user has all permissions without explicitly assigning them.', verbose_name='superuser status')),
                ('username', models.CharField(error_messages={'unique': 'A user with that username already exists.'}, help_text='Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.', max_length=150, unique=True, validators=[django.contrib.auth.validators.UnicodeUsernameValidator()], verbose_name='username')),
                ('first_name', models.CharField(blank=True, max_length=150, verbose_name='first name')),
                ('last_name', models.CharField(blank=True, max_length=150, verbose_name='last name')),
                ('email', models.EmailField(blank=True, max_length=254, verbose_name='email address')),
                ('is_staff', models.BooleanField(default=False, help_text='Designates whether the user can log into this admin site.', verbose_name='staff status')),
                ('is_active', models.BooleanField(default=True, help_text='Designates whether this user should be treated as active. Unselect this instead of deleting accounts.', verbose_name='active')),
                ('date_joined', models.DateTimeField(default=django.utils.timezone.now, verbose_name='date joined')),
                ('display_name', models.CharField(blank=True, max_length=50, verbose_name='姓名')),
                ('phone', models.CharField(blank=True, max_length=20, verbose_name='手机')),
                ('session_epoch', models.PositiveIntegerField(default=0, editable=False)),
                ('groups', models.ManyToManyField(blank=True, help_text='The groups this user belongs to. A user will get all permissions granted to each of their groups.', related_name='user_set', related_query_name='user', to='auth.group', verbose_name='groups')),
                ('user_permissions', models.ManyToManyField(blank=True, help_text='Specific permissions for this user.', related_name='user_set', related_query_name='user', to='auth.permission', verbose_name='user permissions')),
            ],
            options={
                'verbose_name': '用户',
                'verbose_name_plural': '用户',
            },
            managers=[
                ('objects', django.contrib.auth.models.UserManager()),
            ],
        ),
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('digest', models.CharField(max_length=64, unique=True)),
                ('name', models.CharField(blank=True, max_length=100)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('expires_at', models.DateTimeField()),
                ('last_used_at', models.DateTimeField(blank=True, null=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('revoked_reason', models.CharField(blank=True, max_length=30)),
                ('user_mark', models.CharField(default='', editable=False, max_length=64)),
            ],
            options={
                'verbose_name': '接口令牌',
                'verbose_name_plural': '接口令牌',
            },
        ),
        migrations.CreateModel(
            name='Unit',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(max_length=64, unique=True, verbose_name='代码')),
                ('name', models.CharField(max_length=100, verbose_name='名称')),
                ('kind', models.CharField(choices=[('group', '集团'), ('province', '省/分公司'), ('city', '市局/市公司'), ('county', '县局/网点'), ('centre', '中心'), ('department', '部门')], default='county', max_length=20, verbose_name='类型')),
                ('path', models.CharField(db_index=True, default='', editable=False, max_length=255)),
                ('depth', models.PositiveSmallIntegerField(default=0, editable=False)),
                ('active', models.BooleanField(default=True, verbose_name='启用')),
                ('parent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='children', to='org.unit', verbose_name='上级单位')),
                ('customers', models.PositiveIntegerField(blank=True, null=True, verbose_name='客户数')),
            ],
            options={
                'verbose_name': '单位',
                'verbose_name_plural': '单位',
                'ordering': ['path'],
            },
        ),
        migrations.CreateModel(
            name='Membership',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(choices=[('agent', '受理员'), ('dispatcher', '派单员'), ('handler', '处理人'), ('first_responsible', '第一责任人'), ('leader', '分管领导'), ('supervisor', '督办'), ('auditor', '审计'), ('admin', '管理员')], max_length=20, verbose_name='角色')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to=settings.AUTH_USER_MODEL)),
                ('unit', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='org.unit')),
            ],
            options={
                'verbose_name': '岗位',
                'verbose_name_plural': '岗位',
                'constraints': [models.UniqueConstraint(fields=('user', 'unit', 'role'), name='membership_unique')],
            },
        ),
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='时间')),
                ('action', models.CharField(max_length=50, verbose_name='操作')),
                ('target', models.CharField(blank=True, max_length=200, verbose_name='对象')),
                ('details', models.JSONField(blank=True, default=dict, verbose_name='详情')),
                ('ip', models.GenericIPAddressField(blank=True, null=True)),
                ('actor', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='操作人')),
                ('actor_name', models.CharField(blank=True, max_length=150, verbose_name='操作人账号')),
            ],
            options={
                'verbose_name': '审计日志',
                'verbose_name_plural': '审计日志',
                'ordering': ['-id'],
            },
        ),
        migrations.CreateModel(
            name='TotpDevice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('secret', huiyin.org.fields.SealedTextField()),
                ('confirmed', models.BooleanField(default=False)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('last_t', models.BigIntegerField(default=-1)),
                ('drift', models.SmallIntegerField(default=0)),
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='totp_device', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': '动态口令设备',
                'verbose_name_plural': '动态口令设备',
            },
        ),
        migrations.CreateModel(
            name='DutyShift',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('starts_at', models.DateTimeField(verbose_name='开始')),
                ('ends_at', models.DateTimeField(verbose_name='结束')),
                ('note', models.CharField(blank=True, max_length=200, verbose_name='备注')),
                ('unit', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='duty_shifts', to='org.unit', verbose_name='单位')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='duty_shifts', to=settings.AUTH_USER_MODEL, verbose_name='值班人')),
            ],
            options={
                'verbose_name': '值班安排',
                'verbose_name_plural': '值班安排',
                'indexes': [models.Index(fields=['unit', 'ends_at'], name='org_duty_unit_ends')],
                'constraints': [models.CheckConstraint(condition=models.Q(('ends_at__gt', models.F('starts_at'))), name='duty_shift_ends_after')],
            },
        ),
        migrations.RunPython(audit_append_only, audit_append_only_undo),
    ]
