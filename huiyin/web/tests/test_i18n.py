"""Chinese everywhere in the zh-Hans pages, and the English pages complete: every page and every
form of the staff pages, as each persona, in both languages, with a case in every state — and
every action form sent back wrong, so its error messages are read too.

What the pages show of the data (subjects, unit and category names, people's names, the policy's
rule names and clauses, notification texts) is the organisation's own and stays as written; the
test takes it out before looking for words of the other language.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from huiyin.cases.models import Case, Category, Event, Extension, Timer
from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import new_case
from huiyin.notify.models import InboxItem
from huiyin.org.models import Unit, User
from huiyin.policies.models import Policy

pytestmark = pytest.mark.django_db

# Latin that belongs in a Chinese page: keys, file types, the language switch, time zone …
ZH_ALLOWED = {"Ctrl", "Enter", "Alt", "Tab", "Excel", "PDF", "JPEG", "PNG", "English", "UTC", "CSRF", "App",
              "http", "https", "name", "example", "com", "ID"}
# Chinese that belongs in an English page: the switch back to Chinese and the brand.
EN_ALLOWED = ("中文", "回音")
CASE_NUMBER = re.compile(r"\b[A-Z]{2}\d{8}-\d{6}\b")
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")
FILLER = "字"  # what the test types into the forms (the user's own words)


class Visible(HTMLParser):
    """The text a person reads (and the attributes a screen reader or a tooltip shows)."""

    SKIP = frozenset({"script", "style", "template"})

    def __init__(self) -> None:
        super().__init__()
        self.depth_skipped = 0
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.depth_skipped += 1
        for name, value in attrs:
            if name in ATTRIBUTES and value:
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.depth_skipped:
            self.depth_skipped -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth_skipped and data.strip():
            self.texts.append(data.strip())


STORED_CODE = re.compile(r"[a-z][a-z0-9_]*(@\d+)?")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def data_strings() -> list[str]:
    """Everything the pages show that is the organisation's data, longest first."""
    out: set[str] = set()

    def add(value: Any) -> None:
        if isinstance(value, str):
            if value.strip():
                out.add(value.strip())
                out.update(line.strip() for line in value.splitlines() if line.strip())
        elif isinstance(value, (list, tuple)):
            for v in value:
                add(v)
        elif isinstance(value, dict):
            for v in value.values():
                add(v)

    for c in Case.objects.all():
        add([c.subject, c.description, c.demands, c.complainant_name, c.reply, c.cause, c.course, c.conclusion,
             c.countermeasures, c.responsible_person, c.instructions, c.invalid_reason, c.transfer_authority,
             c.compensation_form, c.complainant_address, c.complainant_account])
    add(list(Unit.objects.values_list("name", flat=True)))
    add(list(Category.objects.values_list("name", flat=True)))
    names = list(User.objects.values_list("display_name", flat=True))
    add(names)
    add([n[:1] for n in names if n])  # the avatar's letter
    add(list(Policy.objects.values_list("title", flat=True)))
    for config in Policy.objects.values_list("config", flat=True):  # the record form's titles and clause
        add((config or {}).get("documents"))
    add(list(Timer.objects.values_list("basis", flat=True)))
    add(list(Extension.objects.values_list("reason", flat=True)))
    for e in Event.objects.all():
        add(e.comment)
        # what people wrote in the event, not the codes it stores (a role, a state, a policy
        # version are shown as their labels: they must not pass as the organisation's words)
        add([v for v in _strings(e.changes) if not STORED_CODE.fullmatch(v)])
    for item in InboxItem.objects.all():
        add([item.title, item.body])
    return sorted(out, key=len, reverse=True)


def strangers(html: str, lang: str, data: list[str]) -> list[str]:
    """Words of the other language in a page."""
    parser = Visible()
    parser.feed(html)
    # Only the data strings that can occur in a text of this page: those in one of its texts, and
    # those with a space (taking a longer string out leaves a space, which may complete one).
    # The same strings are taken out, in the same order, as when every one is tried (~10× faster).
    page = "\0".join(parser.texts)
    data = [d for d in data if " " in d or d in page]
    found = []
    for text in parser.texts:
        rest = text
        for d in data:
            if d in rest:
                rest = rest.replace(d, " ")
        rest = CASE_NUMBER.sub(" ", rest).replace(FILLER, " ")
        if lang == "en":
            for allowed in EN_ALLOWED:
                rest = rest.replace(allowed, " ")
            if CJK.search(rest.replace("：", "").replace("，", "").replace("×", "")):
                found.append(text)
        else:
            words = {w for w in LATIN_WORD.findall(rest) if w not in ZH_ALLOWED}
            if words:
                found.append(f"{text!r} ({', '.join(sorted(words))})")
    return found


def _client(user: Any, lang: str) -> Client:
    c = Client()
    c.force_login(user)
    c.cookies["django_language"] = lang
    return c


def _wrong_values(html: str, number: str, action: str) -> dict[str, Any]:
    """A form of `action` filled in wrong: every text too long, numbers not numbers, choices
    not among the options (so the service refuses it and changes nothing)."""
    start = html.index(f'data-action-form="{action}"')
    form = html[start:html.index("</details>", start)]
    version = re.search(r'name="expected_version" value="(\d+)"', form)
    data: dict[str, Any] = {"expected_version": version.group(1) if version else "1"}
    for tag, name in re.findall(r"<(input|textarea|select)[^>]*?name=\"([a-z_]+)\"", form):
        if name in ("expected_version", "csrfmiddlewaretoken", "seen"):
            continue
        if tag == "select" or 'type="radio"' in form.split(f'name="{name}"')[0][-200:]:
            data[name] = "no-such-choice"
        elif re.search(rf'type="number"[^>]*name="{name}"', form):
            data[name] = "abc"
        else:
            data[name] = FILLER * 25_000
    return data


# Who reads each case (and sends its forms back wrong): the persona with the most to do on it.
READERS = {
    "registered": "dispatcher", "pending_approval": "leader", "dispatched": "handler_a", "returned": "dispatcher",
    "accepted": "handler_a", "suspended": "handler_a", "result_submitted": "dispatcher",
    "pending_callback": "agent", "closed": "dispatcher", "invalid": "auditor", "unsatisfied": "supervisor",
    "report": "dispatcher", "extension": "leader",
}
PAGES = ["/", "/?tab=overdue", "/cases/?sort=due", "/approvals/", "/board/", "/dashboard/", "/inbox/?show=unread"]


def test_every_page_and_form_speaks_one_language(org: Any, api: Any) -> None:
    numbers = {state: case_in(api, state) for state in (
        "registered", "pending_approval", "dispatched", "returned", "accepted", "suspended", "result_submitted",
        "pending_callback", "closed", "invalid")}
    unsatisfied = case_in(api, "pending_callback")
    assert api("agent").act(unsatisfied, "callback", {"satisfaction": "unsatisfied", "notes": "仍不满意"}).status_code == 200
    numbers["unsatisfied"] = unsatisfied
    assert api("handler_a").act(numbers["accepted"], "request_extension",
                                {"amount": 1, "unit": "working_days", "reason": "需现场核实"}).status_code == 200
    numbers["extension"] = numbers["accepted"]
    numbers["report"] = new_case(api, kind="report", subject="举报无证经营")["number"]
    # changed once, so a form of its first version is stale
    assert api("dispatcher").act(numbers["registered"], "classify", {"severity": "major"}).status_code == 200
    data = data_strings()
    problems: list[str] = []

    def check(label: str, r: Any, lang: str) -> None:
        problems.extend(f"{lang} {label}: {s}" for s in strangers(r.content.decode(), lang, data))

    for lang in ("zh-hans", "en"):
        login = Client()
        login.cookies["django_language"] = lang
        check("/login/", login.get("/login/"), lang)
        for username in ("dispatcher", "leader", "supervisor", "handler_a", "auditor"):
            c = _client(getattr(org, username), lang)
            for url in PAGES:
                r = c.get(url)
                assert r.status_code == 200, (lang, username, url, r.status_code)
                check(f"{username} {url}", r, lang)
        agent = _client(org.agent, lang)
        for url in ("/intake/", f"/intake/?same={numbers['closed']}", "/intake/lookup?complainant_phone=13800138000",
                    "/intake/lookup?complainant_phone=12345678", "/inbox/", "/cases/XX00000000-000000/"):
            check(f"agent {url}", agent.get(url), lang)
        # Every case page, and each of its action forms sent back wrong, by the persona who has them.
        for state, number in numbers.items():
            c = _client(getattr(org, READERS[state]), lang)
            r = c.get(f"/cases/{number}/")
            assert r.status_code == 200, (lang, state)
            html = r.content.decode()
            check(f"{READERS[state]} {state} case", r, lang)
            for action in re.findall(r'data-action-form="([a-z_]+)"', html):
                r = c.post(f"/cases/{number}/act/{action}", _wrong_values(html, number, action))
                assert r.status_code in (403, 409, 422), (lang, state, action, r.status_code)
                check(f"{READERS[state]} {action} on {state}", r, lang)
        # A stale form: the conflict, with who changed what.
        r = _client(org.dispatcher, lang).post(f"/cases/{numbers['registered']}/act/dispatch",
                                               {"expected_version": "1", "unit": "county_a", "seen": "0"})
        assert r.status_code == 409
        check("conflict", r, lang)
        # The intake, sent back wrong in each way.
        for wrong in ({"kind": "complaint", "channel": "phone", "subject": ""},
                      {"kind": "complaint", "channel": "phone", "subject": "字" * 300, "complainant_phone": "12345"},
                      {"kind": "complaint", "channel": "phone", "subject": "断货", "amount": "abc",
                       "complainant_email": "not-an-address", "received_at": "2999-01-01T00:00"},
                      {"kind": "complaint", "channel": "phone", "subject": "断货", "category": "no-such-category"}):
            r = agent.post("/intake/", wrong)
            assert r.status_code == 422, (lang, wrong, r.status_code)
            check(f"intake {sorted(wrong)}", r, lang)
    assert not problems, "\n".join(sorted(set(problems))[:80])
