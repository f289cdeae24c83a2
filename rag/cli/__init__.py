"""The rag floor's commands (ingest, ask, retrieve, collections, documents, models, memory,
kg, keys) and the options and output helpers every command shares. The `ragmem` app that
assembles them with the eval floor's `bench`/`calibrate` and `serve` is `api.cli`."""
