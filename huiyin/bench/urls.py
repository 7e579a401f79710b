"""The product's URLconf with one bench-only pattern in front: /bench/bare (see `bare`)."""

from django.urls import path

from huiyin.urls import urlpatterns as product_urlpatterns

from .bare import bare

urlpatterns = [path("bench/bare", bare), *product_urlpatterns]
