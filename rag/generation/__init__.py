"""Answer generators: extractive (no model) and LLM backends (vllm, openai, local).

`factory.make_answerer(name, ...)` picks one; `base.Generator` is the LLM protocol.
"""
