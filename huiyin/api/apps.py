from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "huiyin.api"
    label = "api"
    verbose_name = "接口"
