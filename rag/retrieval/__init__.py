"""Retrieval: from a question to ranked, traced passages.

`base` holds the retriever interface, the `Retrieval` result and the index retrievers
(bm25, dense, hipporag, hybrid); `factory` builds any retriever by name; `fusion`
(RAG-Fusion over query variants from `query_variants`), `crag/` (evidence grading,
its retriever and calibration) and `adaptive` (Adaptive-RAG routing) build on them;
`context` carries what they need from the collection (chunk texts, calibration, an LLM);
`pipeline` runs a retriever and hands the evidence to the answerer.
"""
