"""Patient identity with the INS rules: matricule, traits, statuses, matching and merges.

Why a package: each concept is one module — ``nir`` (the matricule and its key, Corsica
included), ``form`` (the traits and statuses), ``matching`` (probable duplicates), ``records``
(creation and correction) and ``merge``; this module re-exports the public API so callers write
``from cpts_app.services.identity import create_patient_checked``.
"""

from cpts_app.services.identity.form import (
    IDENTITY_STATUS_LABELS,
    IdentityForm,
    identity_status_label,
    validate_identity,
)
from cpts_app.services.identity.matching import DuplicateCandidate, find_probable_duplicates
from cpts_app.services.identity.merge import merge_patients
from cpts_app.services.identity.nir import compact_nir, nir_mismatches, validate_nir
from cpts_app.services.identity.records import (
    ProbableDuplicates,
    create_patient_checked,
    patient_search_name,
    update_identity,
)

__all__ = [
    "IDENTITY_STATUS_LABELS",
    "DuplicateCandidate",
    "IdentityForm",
    "ProbableDuplicates",
    "compact_nir",
    "create_patient_checked",
    "find_probable_duplicates",
    "identity_status_label",
    "merge_patients",
    "nir_mismatches",
    "patient_search_name",
    "update_identity",
    "validate_identity",
    "validate_nir",
]
