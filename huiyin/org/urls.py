from django.urls import path

from . import views

app_name = "org"

urlpatterns = [
    path("login/code/", views.login_code, name="login_code"),
    path("login/enrol/", views.login_enrol, name="login_enrol"),
    path("account/security/", views.security, name="security"),
    path("account/signout-everywhere", views.signout_everywhere, name="signout_everywhere"),
]
