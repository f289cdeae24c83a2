"""Answer generators: extractive (no model) now; vLLM, OpenAI-compatible and local later."""
