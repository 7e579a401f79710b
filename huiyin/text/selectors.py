"""Reads of the stored text models that need no scikit-learn: the worker's retraining check and
the model pages read these without importing `classifier` (and with it scikit-learn, SciPy and
NumPy: ~2 s and ~80 MB per process)."""

from __future__ import annotations

from .models import TextModel


def newest(name: str) -> TextModel | None:
    """The version of model `name` in use: the newest active one."""
    return TextModel.objects.filter(name=name, active=True).defer("blob").order_by("-version").first()


def last_trained(name: str) -> TextModel | None:
    """The newest version of model `name`, in use or not (when it was last trained)."""
    return TextModel.objects.filter(name=name).defer("blob").order_by("-version").first()
