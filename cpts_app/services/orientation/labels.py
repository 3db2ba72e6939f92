"""French labels of the orientation's enumerations and of the contact log's codes.

Why here: the stored values are English or ASCII codes; the queue, the detail page, the CSV export
and the messages must all word them the same way.
"""

from __future__ import annotations

from cpts_app.models.orientation import ReferralReason, ReferralSource, ReferralStatus, Urgency

SOURCE_LABELS: dict[ReferralSource, str] = {
    ReferralSource.PHARMACIST: "Pharmacien·ne",
    ReferralSource.NURSE: "Infirmier·ère",
    ReferralSource.EMERGENCY_DOCTOR: "Médecin urgentiste",
    ReferralSource.GENERAL_PRACTITIONER: "Médecin",
    ReferralSource.OTHER_PROFESSIONAL: "Autre professionnel·le",
    ReferralSource.PATIENT_FORM: "Patient (formulaire)",
    ReferralSource.PATIENT_EMAIL: "Patient (courriel)",
}

REASON_LABELS: dict[ReferralReason, str] = {
    ReferralReason.CHRONIC_ALD: "Maladie chronique / ALD",
    ReferralReason.HOSPITAL_DISCHARGE: "Sortie d'hospitalisation",
    ReferralReason.TREATMENT_RENEWAL: "Renouvellement de traitement",
    ReferralReason.FOLLOW_UP: "Suivi après maison médicale de garde, urgences ou téléconsultation",
    ReferralReason.UNSCHEDULED_CARE: "Soins non programmés",
    ReferralReason.FIND_ATTENDING_DOCTOR: "Recherche de médecin traitant",
}

URGENCY_LABELS: dict[Urgency, str] = {
    Urgency.HALF_DAY: "Dans la demi-journée",
    Urgency.WITHIN_48H: "Sous 48 h",
    Urgency.SCHEDULED: "Programmé",
}

STATUS_LABELS: dict[ReferralStatus, str] = {
    ReferralStatus.RECEIVED: "Reçue",
    ReferralStatus.TO_QUALIFY: "À qualifier",
    ReferralStatus.CONTACTING: "En cours de contact",
    ReferralStatus.ORIENTED: "Orientée",
    ReferralStatus.CLOSED: "Clôturée",
    ReferralStatus.UNREACHABLE: "Injoignable",
    ReferralStatus.REFUSED: "Refusée",
}

CONTACT_CHANNEL_LABELS: dict[str, str] = {
    "appel": "Appel",
    "sms": "SMS",
    "courriel": "Courriel",
}
"""``ContactAttempt.channel`` codes (the model stores plain strings)."""

CONTACT_OUTCOME_LABELS: dict[str, str] = {
    "joint": "Patient joint",
    "pas_de_reponse": "Pas de réponse",
    "message_laisse": "Message laissé",
    "numero_errone": "Numéro erroné",
}
"""``ContactAttempt.outcome`` codes."""

OPEN_STATUSES: frozenset[ReferralStatus] = frozenset(
    {ReferralStatus.RECEIVED, ReferralStatus.TO_QUALIFY, ReferralStatus.CONTACTING, ReferralStatus.ORIENTED}
)
"""Referrals still in the coordinator's queue (orientée stays until the loop is closed)."""

TERMINAL_STATUSES: frozenset[ReferralStatus] = frozenset(
    {ReferralStatus.CLOSED, ReferralStatus.UNREACHABLE, ReferralStatus.REFUSED}
)


def label(mapping: dict, code: str | None) -> str:  # type: ignore[type-arg]
    """The French label of ``code`` in ``mapping`` (the code itself when unknown, never an error)."""
    if code is None:
        return ""
    for key, text in mapping.items():
        if key == code:
            return text
    return str(code)
