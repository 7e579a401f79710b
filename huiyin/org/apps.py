from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "huiyin.org"
    label = "org"
    verbose_name = "组织与用户"
