from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "huiyin.documents"
    label = "documents"
