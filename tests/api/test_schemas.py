"""Request schemas list what they accept, so OpenAPI shows the retriever names."""

from __future__ import annotations

import pytest

from api.schemas import AskRequest, RetrieveRequest
from rag.errors import InvalidInputError
from rag.retrieval.base import RETRIEVER_NAMES, check_retriever_name

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("model", [RetrieveRequest, AskRequest])
def test_retriever_field_enumerates_every_retriever(model) -> None:
    schema = model.model_json_schema()
    options = schema["properties"]["retriever"]["anyOf"]
    enums = [o["enum"] for o in options if "enum" in o]
    assert enums == [list(RETRIEVER_NAMES)]


def test_one_name_check_for_every_caller() -> None:
    assert check_retriever_name("crag") == "crag"
    with pytest.raises(InvalidInputError, match="choose one of bm25, dense, hybrid, hipporag"):
        check_retriever_name("magic")
