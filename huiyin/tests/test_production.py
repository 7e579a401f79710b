"""Production settings and proofs run as CI runs them (issue 11 items 10, 13): the development
secret refused, the deploy checks passing with the documented minimal environment alone, bandit
finding nothing of medium severity or above."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HUIYIN = str(ROOT / ".venv" / "bin" / "huiyin") if (ROOT / ".venv" / "bin" / "huiyin").exists() else "huiyin"
SECRET = "x7Kp2-" + "q9WmZ3vR8tYb4NcD6fGh1JkL0sA5eUi7oPa2SdFgHjK4lZxCvBn"
KEY = base64.urlsafe_b64encode(b"k" * 32).decode()


def settings_in(env: dict[str, str], code: str = "print(settings.MFA_REQUIRED, settings.SECURE_SSL_REDIRECT)") -> \
        subprocess.CompletedProcess[str]:
    program = f"import django; django.setup(); from django.conf import settings; {code}"
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
            "DJANGO_SETTINGS_MODULE": "huiyin.settings", "HUIYIN_VAR_DIR": str(ROOT / "var" / "test" / "prod")}
    return subprocess.run([sys.executable, "-c", program], env={**base, **env}, capture_output=True, text=True,
                          timeout=60, cwd=ROOT, check=False)


MINIMAL = {"HUIYIN_PRODUCTION": "1", "HUIYIN_SECRET_KEY": SECRET, "HUIYIN_ENCRYPTION_KEYS": KEY,
           "HUIYIN_ALLOWED_HOSTS": "huiyin.example.cn", "HUIYIN_SMTP_HOST": "smtp.example.cn"}


@pytest.mark.slow
@pytest.mark.parametrize("change, message", [
    ({"HUIYIN_SECRET_KEY": "dev-only-insecure-key-do-not-use-in-production"}, "HUIYIN_SECRET_KEY"),
    ({"HUIYIN_SECRET_KEY": "short"}, "HUIYIN_SECRET_KEY"),
    ({"HUIYIN_SECRET_KEY": "django-insecure-" + "a1b2c3d4e5" * 5}, "HUIYIN_SECRET_KEY"),
    ({"HUIYIN_ENCRYPTION_KEYS": ""}, "HUIYIN_ENCRYPTION_KEYS"),
    ({"HUIYIN_ENCRYPTION_KEYS": "not a key"}, "HUIYIN_ENCRYPTION_KEYS"),
    ({"HUIYIN_ALLOWED_HOSTS": None}, "HUIYIN_ALLOWED_HOSTS"),
])
def test_production_refuses_to_start_with_a_published_or_missing_secret(change, message) -> None:
    env = {k: v for k, v in {**MINIMAL, **change}.items() if v is not None}
    r = settings_in(env)
    assert r.returncode != 0 and "ImproperlyConfigured" in r.stderr and message in r.stderr


@pytest.mark.slow
def test_production_requires_one_time_codes_and_https() -> None:
    r = settings_in(MINIMAL)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True"]
    r = settings_in({}, "print(settings.MFA_REQUIRED)")
    assert r.stdout.strip() == "False", "the demo organisation signs in with its password outside production"


@pytest.mark.slow
def test_the_deploy_checks_pass_with_the_minimal_production_environment() -> None:
    r = subprocess.run([str(ROOT / "scripts" / "check-deploy")], capture_output=True, text=True, timeout=120,
                       cwd=ROOT, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout


@pytest.mark.slow
def test_without_smtp_the_deploy_check_fails() -> None:
    env = {k: v for k, v in MINIMAL.items() if k != "HUIYIN_SMTP_HOST"}
    r = settings_in(env, "from django.core.management import call_command; "
                         "call_command('check', '--deploy', '--fail-level', 'WARNING')")
    assert r.returncode != 0 and "huiyin.E001" in r.stderr


@pytest.mark.slow
def test_bandit_finds_nothing_of_medium_severity_or_above() -> None:
    """As `make lint` runs it (scripts/bandit: a tree that passed before answers at once)."""
    if not (ROOT / ".venv" / "bin" / "bandit").exists():
        pytest.skip("bandit is a dev dependency (make venv)")
    r = subprocess.run([sys.executable, "scripts/bandit"], capture_output=True, text=True, timeout=300, cwd=ROOT,
                       check=False)
    assert r.returncode == 0, r.stdout[-3000:]


def test_a_remembered_bandit_pass_covers_exactly_the_files_bandit_reads(tmp_path: Path) -> None:
    """scripts/bandit answers from var/lint/bandit.pass only for the same digest: a change to any
    file bandit scans runs it again; a test, a migration or a non-Python file changes nothing."""
    import runpy

    digest = runpy.run_path(str(ROOT / "scripts" / "bandit"))["digest"]
    for name in ("huiyin/cases/services.py", "huiyin/cases/tests/test_x.py", "huiyin/cases/migrations/0001_x.py",
                 "huiyin/conftest.py", "huiyin/templates/x.html"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    before = digest(tmp_path)
    for name in ("huiyin/cases/tests/test_x.py", "huiyin/cases/migrations/0001_x.py", "huiyin/conftest.py",
                 "huiyin/templates/x.html"):
        (tmp_path / name).write_text("import pickle\n")
        assert digest(tmp_path) == before, name
    (tmp_path / "huiyin/cases/services.py").write_text("x = 2\n")
    assert digest(tmp_path) != before
    (tmp_path / "huiyin/cases/services.py").write_text("x = 1\n")
    (tmp_path / "huiyin/cases/new.py").write_text("")
    assert digest(tmp_path) != before, "a new file is read"


HEAVY = ("rjieba", "openpyxl", "numpy", "psycopg")


@pytest.mark.slow
def test_a_process_loads_the_heavy_libraries_only_when_it_uses_them() -> None:
    """Every `huiyin` command and test subprocess loads the apps and the URLs and runs the system
    checks, but most cut no text, write no workbook and, on SQLite, open no PostgreSQL
    connection. rjieba (jieba's dictionary), openpyxl (with numpy) and psycopg stay unloaded until
    first used, which saves ~0.4 s of every start. A web process loads rjieba at boot
    (huiyin/wsgi.py), so that no request waits for it."""
    loaded = f"print([m for m in {HEAVY!r} if m in sys.modules])"
    r = settings_in({}, f"import sys; from django.core.checks import run_checks; run_checks(); {loaded}; "
                        f"import huiyin.wsgi; {loaded}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["[]", "['rjieba']"], r.stdout
