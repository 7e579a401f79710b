from django.urls import path

from . import views

app_name = "privacy"

urlpatterns = [
    path("privacy/exports/", views.export_requests, name="export_requests"),
    path("privacy/exports/<int:pk>/decide", views.export_decide, name="export_decide"),
]
