from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from huiyin.org.views import LoginView

from .views import cases, inbox, intake, lists, pages

app_name = "web"

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),  # the password, then a one-time code where needed
    path("logout/", auth_views.LogoutView.as_view(next_page=reverse_lazy("web:login")), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", pages.workbench, name="home"),
    path("intake/", intake.intake, name="intake"),
    path("intake/lookup", intake.intake_lookup, name="intake_lookup"),
    path("cases/", lists.case_list, name="cases"),
    path("cases/export.xlsx", lists.case_export, name="case_export"),
    path("cases/filters/save", lists.filter_save, name="filter_save"),
    path("cases/filters/<int:pk>/delete", lists.filter_delete, name="filter_delete"),
    path("cases/<str:number>/", cases.case_detail, name="case"),
    path("cases/<str:number>/act/<str:action>", cases.case_act, name="case_act"),
    path("cases/<str:number>/attach", cases.case_attach, name="case_attach"),
    path("cases/<str:number>/files/<str:token>", cases.attachment_download, name="attachment"),
    path("approvals/", pages.approvals, name="approvals"),
    path("board/", pages.board, name="board"),
    path("dashboard/", pages.dashboard, name="dashboard"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/<int:pk>/read", inbox.inbox_read, name="inbox_read"),
]
