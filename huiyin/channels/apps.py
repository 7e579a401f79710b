from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "huiyin.channels"
    label = "channels"
