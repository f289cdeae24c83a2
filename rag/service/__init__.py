"""The service layer: `core.RagService` (collections, documents, retrieve, ask, indexing
status) and what it owns: `memory` (long-term memory and sessions), `memory_ask`
(answers over memory), `jobs` (the background indexing worker) and `keys` (API keys and
ownership rules). The API and the Python client talk to this layer only.
"""
