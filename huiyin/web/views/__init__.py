"""The staff pages; one module per area (see urls.py)."""
