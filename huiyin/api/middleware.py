"""Make every error under /api/ JSON, including Django's own 404 and 405 pages."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

MESSAGES = {404: ("not_found", "Not found."), 405: ("method_not_allowed", "Method not allowed.")}


class ApiErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            multipart = request.META.get("CONTENT_TYPE", "").startswith("multipart/")
            limit = settings.ATTACHMENT_MAX_BYTES + 1024 * 1024 if multipart else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if length > limit:
                body = json.dumps({"error": {"code": "too_large", "message": "The request is too large.",
                                             "fields": {"file": "too large"}}})
                return HttpResponse(body, status=413, content_type="application/json")
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code in MESSAGES
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            code, message = MESSAGES[response.status_code]
            body = json.dumps({"error": {"code": code, "message": message, "fields": {}}})
            new = HttpResponse(body, status=response.status_code, content_type="application/json")
            if "Allow" in response:
                new["Allow"] = response["Allow"]
            return new
        return response
