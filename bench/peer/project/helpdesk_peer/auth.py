"""DRF's token authentication with the `Bearer` keyword, so the bench's load generator
sends the same Authorization header to both systems."""

from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"
