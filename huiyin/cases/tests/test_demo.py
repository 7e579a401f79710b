"""The demo organisation: loaded by `huiyin demo`, never in production."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from huiyin.org.access import visible_unit_ids
from huiyin.org.models import Unit, User
from huiyin.policies.models import Policy

pytestmark = pytest.mark.django_db


def test_demo_loads_the_bureau_its_units_users_and_the_tobacco_policy(settings, capsys) -> None:
    settings.DEMO_PASSWORD = "demo-pass-123"
    call_command("demo")
    codes = set(Unit.objects.values_list("code", flat=True))
    assert codes == {"bureau", "centre", "marketing", "logistics", "monopoly", "county_a", "county_b"}
    assert Unit.objects.get(code="county_a").parent.code == "bureau"
    users = set(User.objects.values_list("username", flat=True))
    assert users == {"agent", "dispatcher", "leader", "supervisor", "handler_a", "handler_b", "auditor", "admin"}
    assert User.objects.get(username="agent").check_password("demo-pass-123")
    assert "demo-pass-123" in capsys.readouterr().out
    assert Policy.objects.get(active=True).name == "tobacco"
    county_a = Unit.objects.get(code="county_a")
    assert visible_unit_ids(User.objects.get(username="handler_a")) == [county_a.pk]
    assert len(visible_unit_ids(User.objects.get(username="leader"))) == 7
    call_command("demo")  # idempotent
    assert User.objects.count() == 8


def test_demo_is_refused_in_production(settings) -> None:
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("demo")
    assert not Unit.objects.exists()


def test_the_huiyin_command_is_installed() -> None:
    exe = subprocess.run([sys.executable, "-c", "import shutil,sys; print(shutil.which('huiyin', path=sys.argv[1]))",
                          str(__import__("pathlib").Path(sys.executable).parent)], capture_output=True, text=True,
                         check=True)
    path = exe.stdout.strip()
    assert path != "None"
    out = subprocess.run([path, "help", "preset"], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0
    assert "load" in out.stdout


def test_the_huiyin_command_ends_quietly_when_its_reader_goes_away() -> None:
    """`huiyin calendar show 2026 | head -2`: the pipe's reader is gone before the command has
    written everything; the command ends without a traceback."""
    child = subprocess.Popen([sys.executable, "-m", "huiyin.manage", "help"],  # long enough to fill a pipe write
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # the reader is gone before the first write
    said = child.stderr.read().decode()
    assert child.wait(timeout=60) == 1
    assert "Traceback" not in said and "BrokenPipeError" not in said, said
