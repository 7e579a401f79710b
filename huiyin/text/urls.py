from django.urls import path

from . import views

app_name = "text"

urlpatterns = [
    path("assist/", views.assist, name="assist"),
    path("search/", views.search_page, name="search"),
    path("models/", views.model_quality, name="models"),
]
