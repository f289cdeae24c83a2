"""CRAG: grade the retrieved evidence, then keep, refine, search again or abstain.

`decisions` holds the pure grading and action rules, `retriever` the retriever that applies
them over hybrid search, `calibration` fits the grader's weights to a collection.
"""
