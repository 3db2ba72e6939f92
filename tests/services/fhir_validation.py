"""Validate what the SAS API emits with the ``fhir.resources`` R4B models (R4-compatible)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle


def assert_valid_bundle(body: dict[str, Any]) -> None:
    """The Bundle and every resource in it (contained ones included) parse as FHIR R4B."""
    Bundle.model_validate(body)
    for entry in body.get("entry", []):
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        for contained in resource.get("contained", []):
            get_fhir_model_class(contained["resourceType"]).model_validate(contained)


def resources(body: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in body.get("entry", []) if e["resource"]["resourceType"] == resource_type]
