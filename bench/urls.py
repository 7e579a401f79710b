"""The product's URLconf with the bench-only ceilings in front: /bench/bare and /bench/rows
(see `bench.ceilings`)."""

from django.urls import path

from huiyin.urls import urlpatterns as product_urlpatterns

from .ceilings import bare, rows

urlpatterns = [path("bench/bare", bare), path("bench/rows", rows), *product_urlpatterns]
