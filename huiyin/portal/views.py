"""The portal's pages (/portal/): a member of the public on a phone submits a case, keeps the
receipt, follows the case, adds information, rates the handling and asks to reopen it. Plain
forms, no script: everything works without JavaScript.

A case is opened with its number and query code once per browser session (the session then
remembers the numbers it may show, so the code never travels in a URL). Every form is counted
per address (`limits`): after repeated use it asks the challenge, past the limit it refuses.
"""

from __future__ import annotations

from typing import Any, get_args

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.functional import Promise
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pydantic import BaseModel

from huiyin.cases.errors import BadInput, CaseError, Cause
from huiyin.cases.inputs import FORBIDDEN_CHARS
from huiyin.cases.models import Kind, NotifyVia, Satisfaction
from huiyin.cases.phones import PHONE_HELP
from huiyin.documents import services as documents

from . import limits, services
from .challenge import picture

GRANTS = "portal_cases"  # the case numbers this browser session opened with their codes
MAX_GRANTS = 20
KIND_NOTES = {
    Kind.COMPLAINT: "对产品或服务不满意，要求处理", Kind.CONSULTATION: "询问政策、业务或办理方法",
    Kind.SUGGESTION: "对改进工作的意见和建议", Kind.REPORT: "反映违法违规行为，可以匿名",
    Kind.PRAISE: "表扬好的服务和工作人员",
}
RATINGS = [(s.value, s.label) for s in Satisfaction if s != Satisfaction.UNREACHABLE]
VIA = [(v.value, v.label) for v in NotifyVia if v]


def _granted(request: HttpRequest) -> list[str]:
    value = request.session.get(GRANTS, [])
    return value if isinstance(value, list) else []


def _grant(request: HttpRequest, number: str) -> None:
    numbers = [n for n in _granted(request) if n != number] + [number]
    request.session[GRANTS] = numbers[-MAX_GRANTS:]


def _address(request: HttpRequest) -> str:
    return limits.client_address(request)


def _challenge(request: HttpRequest, scope: str) -> dict[str, str] | None:
    """A fresh challenge for the form when the address's next use will need one."""
    if not limits.would_challenge(scope, _address(request)):
        return None
    return {"id": limits.challenge_new()}


def _limited(request: HttpRequest, scope: str) -> tuple[HttpResponse | None, str]:
    """Count a form sent; (a 429 page, "") when over the limit, (None, why) when the challenge
    was needed and not answered, (None, "") when the form may go on."""
    try:
        limits.check(scope, _address(request), challenge_id=request.POST.get("challenge_id", ""),
                     answer=request.POST.get("challenge_answer", ""))
    except limits.Limited as exc:
        response = render(request, "portal/limited.html", {"minutes": max(1, exc.retry_after // 60)}, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response, ""
    except limits.ChallengeRequired as exc:
        return None, "验证码不正确或已过期，请重新输入。" if exc.wrong else "请输入图中的字符后再提交。"
    return None, ""


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    kinds = [(k, Kind(k).label, KIND_NOTES.get(Kind(k), "")) for k in services.open_kinds()]
    return render(request, "portal/home.html", {"kinds": kinds})


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/privacy.html", {"version": settings.PRIVACY_NOTICE_VERSION})


def _submit_context(request: HttpRequest, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    return {
        "v": values, "errors": errors, "kinds": [(k, Kind(k).label) for k in services.open_kinds()],
        "via": VIA, "version": settings.PRIVACY_NOTICE_VERSION, "challenge": _challenge(request, "submit"),
        "max_files": settings.PORTAL_MAX_FILES, "max_mb": settings.ATTACHMENT_MAX_BYTES // (1024 * 1024),
    }


# The fields of the portal's forms (services' PortalCaseIn, InformationIn, SatisfactionIn, ReopenIn)
# and of the errors the services raise about them, as the complainant reads them.
FIELD_NAMES = {
    "kind": "类型", "subject": "标题", "description": "具体情况", "demands": "诉求", "complainant": "联系人",
    "complainant.name": "姓名", "complainant.phone": "手机或电话", "complainant.email": "电子邮箱",
    "complainant.address": "地址", "complainant.anonymous": "匿名", "complainant.notify_via": "告知方式",
    "privacy_notice_version": "隐私声明", "occurred_at": "发生时间", "product": "产品或服务", "files": "附件",
    "text": "补充的情况", "satisfaction": "满意度", "comment": "意见", "reason": "申请重新办理的理由",
}
# What the complainant is told when the case's state does not allow a step, by the cause of the
# service's InvalidTransition (cases.errors.Cause: a code, not the wording); any other → NOT_NOW.
NOT_NOW_BECAUSE = {
    Cause.NOT_YET_ANSWERED: "工单还在办理中，答复或办结后才能评价。",
    Cause.ALREADY_RATED: "您已经评价过了，感谢您的反馈。",
    Cause.CASE_CLOSED: "工单已办结，不能再补充情况；如对结果有异议，可以申请重新办理。",
    Cause.REOPEN_WAITING: "您已申请重新办理，正在审查，无需再次申请。",
    Cause.REOPEN_NOT_ALLOWED: "工单还在办理中，或已超过可以申请重新办理的期限。",
}
NOT_NOW = "现在不能进行这一步（工单的状态已变化），请刷新后查看。"
# The portal takes in no cases (services.PortalUnavailable: no unit registers them).
UNAVAILABLE = "网上受理暂时无法提交，您填写的内容还在下方。请稍后再试，或拨打服务电话反映。"


def _max_length(form: type[BaseModel], key: str) -> int | None:
    """The most characters the form's field `key` ("complainant.name" inside a nested form) may
    have, from its `Field(max_length=…)`; None when it has no limit."""
    head, _, rest = key.partition(".")
    field = form.model_fields.get(head)
    if field is None:
        return None
    if rest:
        nested = [a for a in (get_args(field.annotation) or (field.annotation,))
                  if isinstance(a, type) and issubclass(a, BaseModel)]
        return _max_length(nested[0], rest) if nested else None
    return next((m.max_length for m in field.metadata if isinstance(getattr(m, "max_length", None), int)), None)


# The kinds of problem a field can have: from the pydantic error the BadInput carries for the
# field (its type), or REFUSED when the service refused the field on its own
# (the portal service's BadInput: the kind it is not open to, the contact a case needs …).
MISSING, CHOICE, FORMAT, CHARACTERS, TOO_LONG, REFUSED, INVALID = (
    "missing", "choice", "format", "characters", "too_long", "refused", "invalid")
# What the complainant is told, by (field, kind of problem); ("", kind) for any field. A field
# too long is told its limit and length (_field_problems), an attachment what is accepted.
PROBLEMS: dict[tuple[str, str], str | Promise] = {
    ("complainant.phone", FORMAT): PHONE_HELP,  # the staff intake's wording, in Chinese
    ("complainant.email", FORMAT): "请填写正确的电子邮箱，例如 name@example.com",
    ("complainant", REFUSED): "请填写姓名，以及手机或电子邮箱中的至少一项，以便联系您；只有举报可以匿名",
    ("kind", REFUSED): "网上暂不受理这一类型，请选择其他类型，或拨打服务电话反映",
    ("privacy_notice_version", MISSING): "请阅读隐私声明，并勾选“我已阅读并同意隐私声明”",
    ("privacy_notice_version", REFUSED): "隐私声明已更新，请刷新页面，重新阅读并勾选同意",
    ("occurred_at", FORMAT): "请填写正确的日期和时间",
    ("", MISSING): "请填写",
    ("", CHOICE): "请从选项中选择",
    ("", CHARACTERS): "含有看不见的控制字符（常见于从别处复制来的文字），请删除后重新输入",
    ("", TOO_LONG): "内容太长",
    ("", FORMAT): "格式不正确",
    ("", REFUSED): "内容不符合要求",
    ("", INVALID): "内容不符合要求",
}


def _kind_of(err: dict[str, Any]) -> str:
    """The kind of problem one pydantic error is."""
    kind, ctx, value = err.get("type", ""), err.get("ctx") or {}, err.get("input")
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return MISSING
    if kind == "string_too_long":
        return TOO_LONG
    if kind in ("literal_error", "enum", "bool_parsing", "bool_type"):
        return CHOICE
    if kind == "value_error" and isinstance(value, str) and (services.CONTROL.search(value)
                                                             or FORBIDDEN_CHARS.search(value)):
        return CHARACTERS
    if kind == "value_error" or kind.startswith(("datetime", "date")):
        return FORMAT
    return INVALID


def _problem_text(key: str, kind: str) -> str:
    text = PROBLEMS.get((key, kind)) or PROBLEMS.get(("", kind)) or PROBLEMS[("", INVALID)]
    with translation.override("zh-hans"):  # the portal speaks Chinese, whatever the staff pages chose
        return str(text)


def _field_problems(form: type[BaseModel], fields: dict[str, str], values: Any,
                    errors: dict[str, dict[str, Any]]) -> str:
    """The fields a BadInput names, in Chinese, each with what is wrong: a too long one with its
    limit, "补充的情况（最多 5000 字，现有 30000 字）", any other with its kind of problem,
    "手机或电话（请填写手机号（如 13800138000）……）", from the pydantic error the BadInput
    carries for it (`errors`), REFUSED when the service refused the field itself."""
    kinds = {key: _kind_of(err) for key, err in errors.items()}
    named = []
    for key in fields:
        name = FIELD_NAMES.get(key)
        if name is None:
            continue
        value = values.get(key.rpartition(".")[2], "")
        limit = _max_length(form, key)
        if key == "files":
            name += (f"（最多 {settings.PORTAL_MAX_FILES} 个，每个不超过 {settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)}"
                     " MB，只接受照片、PDF 和录音）")
        elif limit is not None and isinstance(value, str) and len(value.strip()) > limit:
            name += f"（最多 {limit} 字，现有 {len(value.strip())} 字）"
        else:
            name += f"（{_problem_text(key, kinds.get(key, REFUSED))}）"
        named.append(name)
    return "请检查填写的内容：" + "、".join(named) if named else "请检查填写的内容。"


@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        initial = {"kind": request.GET.get("kind", "complaint")}
        return render(request, "portal/submit.html", _submit_context(request, initial, {}))
    post = request.POST
    values: dict[str, Any] = {k: post.get(k, "") for k in post}
    refused, why = _limited(request, "submit")
    if refused is not None:
        return refused
    if why:
        context = _submit_context(request, values, {})
        context["challenge"] = {"id": limits.challenge_new()}
        context["alert"] = why
        return render(request, "portal/submit.html", context, status=428)
    anonymous = post.get("anonymous") == "on"
    person = {k: post.get(k, "").strip() for k in ("name", "phone", "email", "address")}
    body: dict[str, Any] = {
        "kind": post.get("kind", ""), "subject": post.get("subject", "").strip(),
        "description": post.get("description", "").strip(), "demands": post.get("demands", "").strip(),
        "privacy_notice_version": post.get("privacy_notice_version", "") if post.get("privacy") == "on" else "",
    }
    if any(person.values()) or not anonymous:
        body["complainant"] = {**person, "anonymous": anonymous, "notify_via": post.get("notify_via", "")}
    try:
        case, code = services.case_submit(body, ip=request.META.get("REMOTE_ADDR"),
                                          files=request.FILES.getlist("files"))
    except services.PortalUnavailable:  # the log says why (services.intake_unit)
        context = _submit_context(request, values, {})
        context["alert"] = UNAVAILABLE
        return render(request, "portal/submit.html", context, status=503)
    except BadInput as exc:
        errors = {k: v for k, v in exc.fields.items()}
        if not body["privacy_notice_version"]:
            errors = {"privacy_notice_version": "请阅读并同意隐私声明"}
        # the template reads "complainant.phone" as errors.complainant_phone
        context = _submit_context(request, values, {k.replace(".", "_"): v for k, v in errors.items()})
        context["alert"] = _field_problems(services.PortalCaseIn, errors, post, exc.errors) if errors else exc.message
        return render(request, "portal/submit.html", context, status=422)
    _grant(request, case.number)
    response = render(request, "portal/receipt.html", {"number": case.number, "code": code,
                                                       "kind": case.get_kind_display()})
    response["Cache-Control"] = "no-store"  # the code is shown once: never from a cache
    return response


@require_http_methods(["GET", "POST"])
def track(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "portal/track.html", {"number": request.GET.get("number", ""),
                                                     "challenge": _challenge(request, "track")})
    number = request.POST.get("number", "").strip().upper()
    refused, why = _limited(request, "track")
    if refused is not None:
        return refused
    if why:
        return render(request, "portal/track.html", {"number": number, "alert": why,
                                                     "challenge": {"id": limits.challenge_new()}}, status=428)
    code = request.POST.get("code", "")
    case = services.case_by_number(number, code) if number else services.case_by_code(code)
    if case is None:
        return render(request, "portal/track.html", {
            "number": number, "alert": "工单编号或查询码不正确。", "challenge": _challenge(request, "track")},
            status=404)
    _grant(request, case.number)
    return redirect("portal:case", number=case.number)


def _case(request: HttpRequest, number: str) -> Any:
    if number not in _granted(request):
        return None
    row = services.PortalAccess.objects.filter(case__number=number).select_related("case", "case__unit").first()
    return row.case if row else None


@require_GET
def case(request: HttpRequest, number: str) -> HttpResponse:
    found = _case(request, number)
    if found is None:
        return redirect(f"{_url('portal:track')}?number={number if len(number) <= 20 else ''}")
    view = services.tracking_view(found)
    return render(request, "portal/case.html", {"c": view, "ratings": RATINGS,
                                                "challenge": _challenge(request, "act"),
                                                "max_files": settings.PORTAL_MAX_FILES})


def _url(name: str, **kwargs: Any) -> str:
    from django.urls import reverse

    return reverse(name, kwargs=kwargs or None)


def _act(request: HttpRequest, number: str, step: Any, done: str, *, form: type[BaseModel]) -> HttpResponse:
    found = _case(request, number)
    if found is None:
        raise Http404
    refused, why = _limited(request, "act")
    if refused is not None:
        return refused
    if why:
        messages.error(request, why)
        return redirect("portal:case", number=number)
    try:
        step(found)
    except CaseError as exc:
        messages.error(request, _problem(exc, form=form, values=request.POST))
    else:
        messages.success(request, done)
    return redirect("portal:case", number=number)


def _problem(exc: CaseError, *, form: type[BaseModel], values: Any) -> str:
    if isinstance(exc, BadInput):
        return _field_problems(form, exc.fields, values, exc.errors) if exc.fields else exc.message
    return NOT_NOW_BECAUSE.get(exc.cause, NOT_NOW) if exc.cause else NOT_NOW


@require_POST
def information(request: HttpRequest, number: str) -> HttpResponse:
    ip = request.META.get("REMOTE_ADDR")
    return _act(request, number, lambda c: services.information_add(
        c, {"text": request.POST.get("text", "")}, ip=ip, files=request.FILES.getlist("files")),
        "补充的情况已提交，承办单位会看到。", form=services.InformationIn)


@require_POST
def satisfaction(request: HttpRequest, number: str) -> HttpResponse:
    ip = request.META.get("REMOTE_ADDR")
    return _act(request, number, lambda c: services.rate(
        c, {"satisfaction": request.POST.get("satisfaction", ""), "comment": request.POST.get("comment", "")},
        ip=ip), "感谢您的评价。", form=services.SatisfactionIn)


@require_POST
def reopen(request: HttpRequest, number: str) -> HttpResponse:
    ip = request.META.get("REMOTE_ADDR")
    return _act(request, number, lambda c: services.reopen_request(
        c, {"reason": request.POST.get("reason", "")}, ip=ip), "重新办理的申请已提交，我们会尽快审查并告知您。",
        form=services.ReopenIn)


@require_GET
def document(request: HttpRequest, number: str, kind: str, fmt: str) -> HttpResponse:
    found = _case(request, number)
    doc = documents.document_for_complainant(found, kind) if found is not None and fmt in documents.FORMATS else None
    if doc is None or found is None:
        raise Http404
    body = documents.rendered(found, doc, fmt, viewer=None)
    response = HttpResponse(body, content_type="application/pdf" if fmt == "pdf" else "text/html; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{documents.filename(doc, fmt)}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def challenge_image(request: HttpRequest, challenge_id: str) -> HttpResponse:
    answer = limits.challenge_answer(challenge_id)
    if answer is None:
        raise Http404
    response = HttpResponse(picture(answer), content_type="image/png")
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def forget(request: HttpRequest) -> HttpResponse:
    """On a shared phone or computer: close the cases this browser opened."""
    request.session.pop(GRANTS, None)
    return redirect("portal:home")
