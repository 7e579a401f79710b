from django.urls import path

from . import views

app_name = "knowledge"

urlpatterns = [
    path("suggest/", views.suggest, name="suggest"),
    path("articles/", views.article_list, name="articles"),
    path("articles/<int:pk>/", views.article_detail, name="article"),
    path("propose/", views.propose, name="propose"),
    path("replies/", views.replies, name="replies"),
]
