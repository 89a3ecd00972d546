"""Model backends behind one interface, registered by name: embedded transformers, a vLLM server, offline vLLM,
and a deterministic scripted one for tests and demos."""

from assistants.backends.base import (
    Backend,
    BackendUnreachable,
    Generation,
    backend_names,
    get_backend,
    register_backend,
)

__all__ = ["Backend", "BackendUnreachable", "Generation", "backend_names", "get_backend", "register_backend"]
