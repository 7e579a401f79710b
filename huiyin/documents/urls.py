from django.urls import path

from . import views

app_name = "documents"

urlpatterns = [
    path("<str:number>/<str:kind>.<str:fmt>", views.document, name="document"),
]
