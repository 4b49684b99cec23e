"""The OpenAPI documents, derived from the contract's types and the kinds' payload types: valid OpenAPI
3.1, every path parameter declared, every kind's submission described, the configured server named."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from queue_config.kinds import REGISTRY
from queue_config.settings import Settings
from queue_config.web.openapi import document


@pytest.mark.parametrize("server", ["front", "status"])
def test_each_openapi_document_is_valid(server: str) -> None:
    validate(document(server))  # type: ignore[arg-type]


@pytest.mark.parametrize("server", ["front", "status"])
def test_every_path_parameter_is_declared(server: str) -> None:
    for path, operations in document(server)["paths"].items():  # type: ignore[arg-type]
        named = set(re.findall(r"\{([a-z_]+)\}", path))
        for op in operations.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == named, (path, declared)


def test_a_submission_is_one_of_the_registrys_kinds_each_with_its_payload_schema() -> None:
    schemas: dict[str, Any] = document("front")["components"]["schemas"]
    mapping = schemas["Submission"]["discriminator"]["mapping"]
    assert set(mapping) == set(REGISTRY)
    for kind, spec in REGISTRY.items():
        one = schemas[mapping[kind].rsplit("/", 1)[1]]
        assert one["properties"]["kind"] == {"const": kind}
        payload = schemas[spec.payload.__name__]
        assert payload["additionalProperties"] is False
        assert set(payload["required"]) == set(spec.payload.__struct_fields__)
    # A constraint is stated once, in the type, and reaches the schema from there
    assert schemas["PaymentPayload"]["properties"]["amount_cents"]["maximum"] == 10_000_000


def test_the_documents_name_the_servers_the_configuration_names() -> None:
    settings = Settings.from_env(
        {"PUBLIC_FRONTDOOR_URL": "https://portal.example/api", "PUBLIC_STATUS_URL": "https://status.example"}
    )
    assert document("front", settings.frontdoor_url)["servers"][0]["url"] == "https://portal.example/api"
    assert document("status", settings.public_status_url)["servers"][0]["url"] == "https://status.example"
    assert Settings.from_env({"FRONTDOOR_PORT": "9000"}).frontdoor_url == "http://127.0.0.1:9000"
