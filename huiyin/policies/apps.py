from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "huiyin.policies"
    label = "policies"
    verbose_name = "规则与预设"
