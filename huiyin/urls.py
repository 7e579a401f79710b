from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from huiyin.api.v1 import api


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("healthz", health),
    path("reports/", include("huiyin.reports.urls")),
    path("", include("huiyin.org.urls")),
    path("", include("huiyin.privacy.urls")),
    path("portal/", include("huiyin.portal.urls")),  # issue 12: the public portal
    path("documents/", include("huiyin.documents.urls")),  # issue 12: formal documents for staff pages
    path("callcentre/", include("huiyin.channels.urls")),  # issue 12: the call centre's screen-pop
    path("text/", include("huiyin.text.urls")),  # issue 13: intake assistant, search page, model quality
    path("knowledge/", include("huiyin.knowledge.urls")),  # issue 13: articles, proposals, standard replies
    path("", include("huiyin.web.urls")),
]

# The portal's own error pages under /portal/, the staff's elsewhere (settings.CSRF_FAILURE_VIEW too).
handler404 = "huiyin.error_pages.not_found"
