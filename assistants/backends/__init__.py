"""Model backends behind one interface: embedded transformers, a vLLM server, offline vLLM."""

from assistants.backends.base import Backend, BackendUnreachable, Generation, get_backend

__all__ = ["Backend", "BackendUnreachable", "Generation", "get_backend"]
