"""The load generators send bodies intake accepts: a phone number intake refuses would turn
the intake bench into a bench of 422 answers (it did, once the phone check came in)."""

from __future__ import annotations

import re
from pathlib import Path

from bench.loadgen import phone
from huiyin.cases.phones import is_chinese_phone


def test_every_generated_phone_number_passes_intakes_phone_check() -> None:
    numbers = {phone(run, n).decode() for run in (10, 55, 99, 123) for n in (0, 1, 999_999, 10**6 + 5)}
    assert all(is_chinese_phone(n) for n in numbers), numbers
    assert phone(10, 1) != phone(11, 1) != phone(10, 2)


def test_the_wrk_script_makes_numbers_of_the_same_block() -> None:
    script = (Path(__file__).parent.parent / "wrk.lua").read_text()
    fmt = re.search(r'string\.format\("(139[^"]*)"', script)
    assert fmt is not None
    lua_format = fmt.group(1).replace("%02d", "{:02d}").replace("%d", "{:d}").replace("%05d", "{:05d}")
    assert is_chinese_phone(lua_format.format(99, 7, 99999))
