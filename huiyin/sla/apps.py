from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "huiyin.sla"
    label = "sla"
    verbose_name = "工作日历与时限"
