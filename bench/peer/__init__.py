"""`make bench-peer`: Huiyin's intake beside django-helpdesk's ticket API, side by side.

Optional and slow to set up the first time; never part of `make test` or CI. See
`bench.peer.runner` for what it does and docs/benchmarks.md for the figures.
"""
