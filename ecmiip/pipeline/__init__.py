"""``ecmiip build``: every step from MIPLD data to a GGUF that ``ollama run`` serves, resumable."""
