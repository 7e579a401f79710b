"""Huiyin (回音): complaint handling for organisations in China."""
