"""Kinds of the model's help, declared once each (see `registry`)."""

from sandwich.assistance.registry import (
    AssistanceKind,
    Segments,
    check_params,
    find,
    get,
    kinds,
    names,
    register,
    unregister,
)

__all__ = ["AssistanceKind", "Segments", "check_params", "find", "get", "kinds", "names", "register", "unregister"]
