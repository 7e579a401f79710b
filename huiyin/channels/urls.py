from django.urls import path

from . import views

app_name = "channels"

urlpatterns = [
    path("pop/", views.pop, name="pop"),
]
