"""A minimal Django project serving django-helpdesk's ticket API, for `make bench-peer`.

It runs only in the peer's own virtualenv (var/bench-peer/venv), never in Huiyin's, and
imports nothing of Huiyin. Settings come from the environment the bench gives it.
"""
