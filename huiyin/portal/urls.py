from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("privacy/", views.privacy, name="privacy"),
    path("submit/", views.submit, name="submit"),
    path("track/", views.track, name="track"),
    path("forget/", views.forget, name="forget"),
    path("challenge/<str:challenge_id>.png", views.challenge_image, name="challenge"),
    path("cases/<str:number>/", views.case, name="case"),
    path("cases/<str:number>/information", views.information, name="information"),
    path("cases/<str:number>/satisfaction", views.satisfaction, name="satisfaction"),
    path("cases/<str:number>/reopen", views.reopen, name="reopen"),
    path("cases/<str:number>/documents/<str:kind>.<str:fmt>", views.document, name="document"),
]
