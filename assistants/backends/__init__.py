"""Model backends behind one interface: embedded transformers, a vLLM server, offline vLLM."""

from assistants.backends.base import Backend, Generation, get_backend

__all__ = ["Backend", "Generation", "get_backend"]
