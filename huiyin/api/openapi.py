"""The OpenAPI document of /api/v1, completed where ninja's generator cannot see.

ninja writes the document from the views' declarations (`response=`, parameters). Three things
it cannot know are added here, when the document is built:

- request bodies the views validate themselves (the case, the actions: `cases.inputs`, parsed
  by the services so the API and the pages refuse the same input) — `body_ref(model)` puts the
  model in `components/schemas` and answers its `$ref`;
- one operation per workflow action: the API has one view for
  `POST /cases/{number}/actions/{action}`, the document lists `/cases/{number}/actions/dispatch`,
  `/…/approve`, … each with its own body (the action's input model), the states it is allowed
  from and the roles that may take it — the same URLs, so a generated client gets one typed
  method per action;
- the meaning of each error status, the same for every operation (`ERRORS`).
"""

from __future__ import annotations

import copy
from typing import Any

from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema
from pydantic import BaseModel

from huiyin.cases import workflow
from huiyin.cases.attachments import SIGNATURES
from huiyin.cases.models import State

REF = "#/components/schemas/{model}"

ERRORS: dict[int, str] = {
    401: "`unauthenticated`: no bearer token, or an unknown or expired one; `invalid_credentials` "
         "(POST /auth/token): wrong username or password.",
    403: "`forbidden`: you see the case, but your roles do not allow this.",
    404: "`not_found`: no such case, attachment or notification — or one outside your units' subtrees "
         "(indistinguishable); `unknown_action`: no action of that name.",
    409: "`invalid_transition`: the state or a precondition does not allow it now; `conflict`: the case "
         "changed since you read it (stale `expected_version`), or an Idempotency-Key was reused with "
         "another body.",
    413: "`too_large`: the request body is over the limit.",
    422: "`invalid_input`: bad JSON, unknown fields, wrong types, too long, impossible values; `fields` "
         "names each offending field.",
    429: "`locked_out`: too many failed sign-ins for this user name or from this address; wait (Retry-After) "
         "or ask an administrator to unlock it.",
}

# What an attachment can be: its type is read from its first bytes (cases.attachments.sniff).
ATTACHMENT_TYPES = sorted({ctype for _, ctype in SIGNATURES} | {"audio/wav", "image/webp", "text/plain"})

SIDES = {
    workflow.Side.OWNER: "over the registering unit (受理单位) or a unit above it",
    workflow.Side.UNIT: "over the handling unit (承办单位)",
    workflow.Side.CO: "over a co-handling unit (协办) of the current round",
    workflow.Side.EITHER: "over any of the case's units",
}

# One line per action for the document (the glossary's words, docs/glossary.md).
ACTION_SUMMARIES: dict[str, str] = {
    "approve": "批示: the leader lets the proposed dispatch go ahead",
    "reject": "批示 (no): a proposed dispatch goes back, a plan is refused, an appeal ends",
    "mark_invalid": "不予受理: the case is not valid",
    "resolve_on_spot": "当场答复: answered during intake",
    "dispatch": "派单: send the case to a handling unit",
    "acknowledge": "签收: the unit confirms receipt",
    "return": "退单: the unit sends the case back",
    "request_extension": "延期: the unit asks for more time to resolve",
    "grant_extension": "延期 (granted): the pending request is granted",
    "refuse_extension": "延期 (refused): the pending request is refused",
    "suspend": "挂起: pause the case's clocks",
    "resume": "恢复: the paused time is given back",
    "record_contact": "首次联系: the unit reached the customer",
    "submit_result": "反馈: the unit reports its findings and reply",
    "approve_plan": "方案审批: the leader approves a major case's plan",
    "review": "审核: the centre accepts the result or sends it back",
    "approve_reply": "答复审核: one level of the policy's reply approval chain",
    "callback": "回访: the customer's satisfaction",
    "close": "办结: close after the callback",
    "redispatch": "二次派单: round 2, supervised",
    "escalate": "三次派单: round 3",
    "urge": "催办: a reminder on an open case",
    "merge": "合并: close a duplicate into another open case",
    "link": "关联: relate two cases",
    "reopen": "重新打开: a closed or invalid case goes back to registered",
    "appeal": "复审: an employee complaint goes to the general manager",
    "compensate": "赔偿: record compensation",
    "transfer_out": "转办: not ours; name the competent authority",
    "co_acknowledge": "协办签收: a co-handling unit confirms receipt",
    "co_submit_result": "协办反馈: a co-handling unit reports its part",
    "dispute_return": "退单异议: the centre disputes a return",
    "decide_return": "派单异议审核: the supervisor decides a disputed return",
    "approve_compensation": "赔偿审批: compensation above the policy's limit is approved",
    "refuse_compensation": "赔偿审批 (no): compensation above the policy's limit is refused",
    "classify": "分类: category, severity, class, customer class or liability",
    "withdraw": "撤回: the complainant withdraws; closed as of the day the request was received",
    "fulfil": "履行: an obligation after closing is done (e.g. the plan filed with head office)",
}

# A body for each action, shown as the operation's example (the tests check each is accepted).
ACTION_EXAMPLES: dict[str, dict[str, Any]] = {
    "approve": {"comment": "同意"},
    "reject": {"comment": "请先核实投诉对象"},
    "mark_invalid": {"reason": "投诉对象不明确", "reason_code": "target_unclear", "explanation": "已向客户说明"},
    "resolve_on_spot": {"reply": "已当场解答"},
    "dispatch": {"unit": "county_a", "instructions": "请两个工作日内处理", "expected_version": 1},
    "acknowledge": {},
    "return": {"reason": "不属本单位业务"},
    "request_extension": {"amount": 3, "unit": "working_days", "reason": "需送检"},
    "grant_extension": {"comment": "同意延期"},
    "refuse_extension": {"comment": "时限内可以办结"},
    "suspend": {"reason": "送检取证"},
    "resume": {},
    "record_contact": {"notes": "已电话联系客户"},
    "submit_result": {"cause": "线路调整", "course": "", "responsible_person": "", "conclusion": "属实",
                      "countermeasures": "优化线路", "reply": "已致歉并补送", "liability": "enterprise"},
    "approve_plan": {},
    "review": {"accept": True},
    "approve_reply": {"accept": True},
    "callback": {"satisfaction": "satisfied", "notes": "客户满意"},
    "close": {},
    "redispatch": {"unit": "county_a", "instructions": "二次派单"},
    "escalate": {"unit": "county_a", "instructions": "三次派单"},
    "urge": {"note": "客户再次来电催促"},
    "merge": {"into": "TS20260213-000001"},
    "link": {"to": "TS20260213-000002"},
    "reopen": {"reason": "客户对结果有异议"},
    "appeal": {"reason": "员工对处理结果申请复审"},
    "compensate": {"amount": "200.00", "form": "代金券"},
    "transfer_out": {"authority": "市场监督管理局", "note": "已告知客户"},
    "co_acknowledge": {},
    "co_submit_result": {"result": "协办部分已完成"},
    "dispute_return": {"reason": "属该单位业务范围"},
    "decide_return": {"uphold": False},
    "approve_compensation": {},
    "refuse_compensation": {"comment": "超出赔偿标准"},
    "classify": {"category": "logistics_delivery", "severity": "difficult"},
    "withdraw": {"reason": "客户来电撤回投诉", "requested_at": "2026-03-10T09:30:00+08:00"},
    "fulfil": {"obligation": "plan_filing", "note": "处理方案已报总公司"},
}

_bodies: dict[str, type[BaseModel]] = {}


def body_ref(model: type[BaseModel]) -> dict[str, str]:
    """A `$ref` to `model` as a request body schema; the model joins the document's components."""
    _bodies[model.__name__] = model
    return {"$ref": REF.format(model=model.__name__)}


def download(content_types: list[str], description: str) -> dict[str, Any]:
    """The 200 answer of a file download (not JSON): the file's bytes in its own media type."""
    return {
        "description": description,
        "headers": {"Content-Disposition": {"description": "attachment; filename=\"<the file's name>\"",
                                            "schema": {"type": "string"}}},
        "content": {ctype: {"schema": {"type": "string", "format": "binary"}} for ctype in content_types},
    }


class HuiyinAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document is complete (see the module's docstring)."""

    actions_path = "/cases/{number}/actions/{action}"

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None,
    ) -> OpenAPISchema:
        """The document, made once per process and path prefix (it is the code's own: ~0.4 s of
        CPU to make, every GET /api/v1/openapi.json made it again); each caller gets a copy."""
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        made = self._schemas.get(path_prefix)
        if made is None:
            made = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
            _add_bodies(made)
            _one_operation_per_action(made, "/" + path_prefix.rstrip("/").strip("/") + self.actions_path)
            _describe_errors(made)
            self._schemas[path_prefix] = made
        return copy.deepcopy(made)

    @property
    def _schemas(self) -> dict[str, OpenAPISchema]:
        found: dict[str, OpenAPISchema] = self.__dict__.setdefault("_huiyin_schemas", {})
        return found


def _add_component(schema: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """Put `model` (and the models it uses) in the document's components; its schema."""
    components = schema["components"]["schemas"]
    if model.__name__ not in components:
        body = model.model_json_schema(ref_template=REF, mode="validation")
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body
    result: dict[str, Any] = components[model.__name__]
    return result


def _add_bodies(schema: dict[str, Any]) -> None:
    for _, model in sorted(_bodies.items()):
        _add_component(schema, model)


def _one_operation_per_action(schema: dict[str, Any], path: str) -> None:
    """Replace the one `path` (…/actions/{action}) by one operation per workflow action, in place."""
    generic = schema["paths"][path]["post"]
    paths: dict[str, Any] = {}
    for key, item in schema["paths"].items():
        if key != path:
            paths[key] = item
            continue
        for name, action in workflow.ACTIONS.items():
            body = _add_component(schema, action.input)
            example = {"example": ACTION_EXAMPLES[name]} if name in ACTION_EXAMPLES else {}
            paths[path.replace("{action}", name)] = {"post": {
                "operationId": f"{generic['operationId']}_{name}",
                "summary": _summary(action),
                "description": _description(action),
                "tags": ["actions"],
                "parameters": [p for p in generic.get("parameters", []) if p["name"] != "action"],
                "requestBody": {
                    "required": bool(body.get("required")),
                    "content": {"application/json": {"schema": {"$ref": REF.format(model=action.input.__name__)},
                                                     **example}},
                },
                "responses": copy.deepcopy(generic["responses"]),
                **({"security": generic["security"]} if "security" in generic else {}),
            }}
    schema["paths"] = paths


def _summary(action: workflow.Action) -> str:
    return f"{action.name} — {ACTION_SUMMARIES[action.name]}" if action.name in ACTION_SUMMARIES else action.name


def _description(action: workflow.Action) -> str:
    states = [s.value for s in State if s.value in action.sources]
    return (
        f"Allowed when the case is {', '.join(states)}; to the roles {', '.join(action.roles)} "
        f"{SIDES[action.side]}. Every body also takes `comment` and `expected_version` (409 `conflict` "
        "when the case has changed). 403: not your role; 409: not allowed in this state or now; "
        "422: bad input."
    )


def _describe_errors(schema: dict[str, Any]) -> None:
    for item in schema["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if int(status) in ERRORS:
                    response["description"] = ERRORS[int(status)]
