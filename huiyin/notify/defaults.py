"""The Chinese default texts shipped with Huiyin, one per event and template transport.

They are installed as editable `Template` rows after each migrate (never overwriting an
administrator's edit) and are also what a broken template falls back to.

Context keys the callers pass (all optional except `case_number`, which is always set):
`subject` (the case's subject), `unit` (the handling unit's name), `deadline` (display text),
`actor` (who acted), `changed` (what the action changed), `note` (reason or comment), `url` (link to the case), `severity`.
Always added: `event`, `event_label`, `recipient` (display name; empty for groups),
`recipients` (names joined with "、").
"""

from __future__ import annotations

from typing import Any

from .models import Event, Template, TemplateTransport

# event → (one short phrase for SMS, one sentence for longer texts)
SENTENCES: dict[str, tuple[str, str]] = {
    Event.CASE_CREATED: ("已登记", "有一张新工单已登记，请及时处理。"),
    Event.CASE_DISPATCHED: ("已派发给您的单位，请及时签收办理", "工单已派发给您的单位，请及时签收并在时限内办理。"),
    Event.CASE_ACKNOWLEDGED: ("已被承办单位签收", "工单已被承办单位签收。"),
    Event.CASE_REMINDER: ("即将到期，请抓紧办理", "工单即将到达办理时限，请抓紧办理。"),
    Event.CASE_BREACHED: ("已超期", "工单已超过办理时限，请尽快处理并说明原因。"),
    Event.CASE_ESCALATED: ("已升级处理", "工单已升级处理，请关注。"),
    Event.CASE_URGED: ("被催办，请尽快办理", "工单被催办，请尽快办理并反馈。"),
    Event.CASE_RESULT_SUBMITTED: ("已反馈办理结果，请审核", "承办单位已反馈办理结果，请审核。"),
    Event.CASE_CALLBACK_DUE: ("待回访", "工单待回访，请及时联系投诉人。"),
    Event.CASE_EXTENSION_REQUESTED: ("申请延期，请审批", "承办单位申请延期，请审批。"),
    Event.CASE_APPROVAL_NEEDED: ("需要您批示", "工单需要您批示，请及时处理。"),
    Event.CASE_MAJOR_OPENED: ("为重大工单，请立即关注", "重大工单已登记，请立即关注并按规定上报。"),
    Event.CASE_CLOSED: ("已办结", "工单已办结。"),
    Event.REPORT_READY: ("统计报告已生成", "统计分析报告已生成，请查阅。"),
    Event.BULLETIN_PUBLISHED: ("通报已发布", "投诉情况通报已发布，请查阅。"),
    Event.WARNING_RAISED: ("预警", "出现预警，请及时研判处置并确认。"),
    Event.PENALTY_RECORDED: ("考核记录", "有一条考核记录与您相关，如有异议可在考核页面提出申诉。"),
    Event.PENALTY_APPEALED: ("考核申诉", "考核申诉待处理或已有结论，请查阅。"),
    Event.ACTION_OVERDUE: ("整改措施逾期", "纠正预防措施已逾期，请尽快落实并提交证据。"),
    Event.KNOWLEDGE_EXPIRED: ("已失效，不再推荐给受理员", "知识条目已失效，不再推荐给受理员，请更新或停用。"),
    Event.CASE_REOPEN_REQUESTED: ("投诉人申请重办，请决定", "投诉人在网站上申请重新办理，请审查后决定是否重办。"),
    Event.CASE_INFORMATION_ADDED: ("投诉人补充了材料", "投诉人补充了情况或材料，请查看处理记录。"),
    Event.COMPLAINANT_NOTICE: ("有新的告知", "您的诉求有新的书面告知。"),
}
# Events about no single case (a report, a bulletin, a warning): their texts name the subject.
NOT_A_CASE = frozenset({Event.REPORT_READY, Event.BULLETIN_PUBLISHED, Event.WARNING_RAISED, Event.ACTION_OVERDUE,
                        Event.KNOWLEDGE_EXPIRED})

# Texts the complainant reads (not staff): context keys `org`, `document`, `document_number`,
# `kind`, `summary`, `portal_url`.
COMPLAINANT_EVENTS = (Event.COMPLAINANT_NOTICE,)

_DETAILS = (
    "{% if subject %}\n主题：{{ subject }}{% endif %}"
    "{% if unit %}\n承办单位：{{ unit }}{% endif %}"
    "{% if deadline %}\n办理时限：{{ deadline }}{% endif %}"
    "{% if actor %}\n操作人：{{ actor }}{% endif %}"
    "{% if changed %}\n变更：{{ changed }}{% endif %}"
    "{% if note %}\n说明：{{ note }}{% endif %}"
)


def default_template(event: str, transport: str) -> tuple[str, str]:
    """(subject, body) of the shipped template for an event and template transport."""
    short, sentence = SENTENCES[event]
    if event in NOT_A_CASE:
        return _not_a_case(event, transport, short, sentence)
    if event in COMPLAINANT_EVENTS:
        return _complainant_template(transport)
    if transport == TemplateTransport.INBOX:
        return "{{ event_label }}：{{ case_number }}", sentence + _DETAILS
    if transport == TemplateTransport.EMAIL:
        body = (
            "{% if recipient %}{{ recipient }}，您好：\n\n{% endif %}"
            + sentence
            + "\n\n工单编号：{{ case_number }}"
            + _DETAILS
            + "{% if url %}\n\n查看工单：{{ url }}{% endif %}"
            + "\n\n—— 回音工单系统（本邮件由系统发送，请勿直接回复）"
        )
        return "【回音】{{ event_label }} {{ case_number }}", body
    if transport == TemplateTransport.SMS:
        return "", "工单{{ case_number }}" + short + "{% if deadline %}，时限{{ deadline }}{% endif %}。"
    # robot
    body = (
        "【{{ event_label }}】工单 {{ case_number }}\n"
        + sentence
        + _DETAILS
        + "{% if recipients %}\n请 {{ recipients }} 处理{% endif %}"
        + "{% if url %}\n{{ url }}{% endif %}"
    )
    return "{{ event_label }} {{ case_number }}", body


def _not_a_case(event: str, transport: str, short: str, sentence: str) -> tuple[str, str]:
    """The texts of an event about a report, a bulletin, a warning or an action: the subject
    (e.g. 2026年11月 客户投诉处理统计分析报告) instead of a case number."""
    details = (
        "{% if unit %}\n单位：{{ unit }}{% endif %}"
        "{% if deadline %}\n期限：{{ deadline }}{% endif %}"
        "{% if note %}\n说明：{{ note }}{% endif %}"
    )
    if transport == TemplateTransport.INBOX:
        return "{{ event_label }}：{{ subject }}", sentence + details + "{% if url %}\n{{ url }}{% endif %}"
    if transport == TemplateTransport.EMAIL:
        body = ("{% if recipient %}{{ recipient }}，您好：\n\n{% endif %}" + sentence + "\n\n{{ subject }}" + details
                + "{% if url %}\n\n查看：{{ url }}{% endif %}" + "\n\n—— 回音工单系统（本邮件由系统发送，请勿直接回复）")
        return "【回音】{{ event_label }} {{ subject }}", body
    if transport == TemplateTransport.SMS:
        return "", "【回音】{{ subject }}" + short + "。"
    body = "【{{ event_label }}】{{ subject }}\n" + sentence + details + "{% if url %}\n{{ url }}{% endif %}"
    return "{{ event_label }} {{ subject }}", body


def _complainant_template(transport: str) -> tuple[str, str]:
    """A notice to the complainant: the document's name and number, what it says in one line,
    and where to read it in full (the portal, with the case number and the query code)."""
    if transport == TemplateTransport.SMS:
        return "", ("【{{ org }}】您的{{ kind }}{{ case_number }}：{{ document }}（{{ document_number }}）"
                    "{% if summary %}，{{ summary }}{% endif %}。可凭编号和查询码在网站查看全文。")
    body = (
        "您好：\n\n{{ org }}就您的{{ kind }}（编号 {{ case_number }}）出具了《{{ document }}》"
        "（{{ document_number }}）。"
        "{% if summary %}\n\n{{ summary }}{% endif %}"
        "{% if portal_url %}\n\n全文请凭工单编号和查询码在 {{ portal_url }} 查看、下载。{% endif %}"
        "\n\n—— {{ org }}（本邮件由系统发送，请勿直接回复）"
    )
    return "【{{ org }}】{{ document }} {{ case_number }}", body


def plain_text(event: str, event_label: str, case_number: str) -> tuple[str, str]:
    """The last resort when even the default template cannot render: no template engine."""
    sentence = SENTENCES.get(event, ("", ""))[1]
    return f"{event_label}：{case_number}", f"工单 {case_number}：{sentence}".strip()


def install_default_templates(sender: Any = None, **kwargs: Any) -> int:
    """Create the missing default `Template` rows; existing rows (edited or not) are kept."""
    from django.db import connections

    using = kwargs.get("using", "default")
    if Template._meta.db_table not in connections[using].introspection.table_names():
        return 0  # notify's tables are not migrated yet (e.g. `migrate org`)
    existing = set(Template.objects.using(using).values_list("event", "transport"))
    rows = []
    for event in Event.values:
        for transport in TemplateTransport.values:
            if (event, transport) in existing:
                continue
            subject, body = default_template(event, transport)
            rows.append(Template(event=event, transport=transport, subject=subject, body=body))
    Template.objects.using(using).bulk_create(rows, ignore_conflicts=True)
    return len(rows)
