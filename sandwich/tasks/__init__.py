"""Task kinds: where items come from and how their gold is known."""
