from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "huiyin.web"
    label = "web"
    verbose_name = "工作台"
