from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("analysis/", views.analysis_page, name="analysis"),
    path("analysis.xlsx", views.analysis_xlsx, name="analysis_xlsx"),
    path("major/<str:number>/", views.major_page, name="major"),
    path("runs/", views.runs, name="runs"),
    path("runs/<int:pk>/", views.run_download, name="run"),
    path("bulletins/", views.bulletin_list, name="bulletins"),
    path("bulletins/new", views.bulletin_new, name="bulletin_new"),
    path("bulletins/<int:pk>/", views.bulletin_page, name="bulletin"),
    path("bulletins/<int:pk>/publish", views.bulletin_publish, name="bulletin_publish"),
    path("bulletins/<int:pk>/bulletin.xlsx", views.bulletin_xlsx, name="bulletin_xlsx"),
    path("warnings/", views.warning_list, name="warnings"),
    path("warnings/<int:pk>/", views.warning_page, name="warning"),
    path("warnings/<int:pk>/<str:act>", views.warning_act, name="warning_act"),
    path("penalties/", views.penalty_list, name="penalties"),
    path("penalties/export.xlsx", views.penalties_xlsx, name="penalties_xlsx"),
    path("penalties/record", views.penalty_record, name="penalty_record"),
    path("penalties/<int:pk>/appeal", views.penalty_appeal, name="penalty_appeal"),
    path("penalties/<int:pk>/decide", views.penalty_decide, name="penalty_decide"),
    path("quality/", views.quality_page, name="quality"),
    path("quality/<str:number>/", views.inspect_page, name="inspect"),
    path("actions/", views.action_list, name="actions"),
    path("actions/new", views.action_new, name="action_new"),
    path("actions/<int:pk>/", views.action_page, name="action"),
    path("actions/<int:pk>/<str:act>", views.action_act, name="action_act"),
    path("volumes/", views.volumes, name="volumes"),
]
