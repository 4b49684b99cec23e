"""Fuzzing each server against its own published OpenAPI document (schemathesis, ``bench/fuzz.py``), with
and without operator and enterprise credentials: no 5xx, no answer the document does not describe, and
a valid document. Bounded to a few examples per operation here; ``python -m bench.fuzz`` runs it long."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from bench.fuzz import fuzz
from queue_config.settings import Settings
from queue_config.web.openapi import document


@pytest.mark.parametrize("server", ["front", "status"])
def test_each_openapi_document_is_valid(server: str) -> None:
    validate(document(server))  # type: ignore[arg-type]


def test_the_documents_name_the_servers_the_configuration_names() -> None:
    settings = Settings.from_env(
        {"PUBLIC_FRONTDOOR_URL": "https://portal.example/api", "PUBLIC_STATUS_URL": "https://status.example"}
    )
    assert document("front", settings.frontdoor_url)["servers"][0]["url"] == "https://portal.example/api"
    assert document("status", settings.public_status_url)["servers"][0]["url"] == "https://status.example"
    assert Settings.from_env({"FRONTDOOR_PORT": "9000"}).frontdoor_url == "http://127.0.0.1:9000"


@pytest.mark.timeout(900)
async def test_fuzzing_finds_no_server_error_and_no_undocumented_answer() -> None:
    runs = await fuzz(max_examples=10)
    assert len(runs) == 5
    for run in runs:
        assert run.cases > 0, run.output[-3000:]
        assert run.ok, f"{run.server} with {run.credentials} credentials:\n{run.output[-6000:]}"
