"""Orientation of patients without a médecin traitant: referrals by professionals, self-signals by
form and e-mail, the coordinator's queue and workflow, finding a médecin traitant, the pôle's
monthly capacity and the indicators reported to the ARS and the Assurance Maladie.

Why a package: each step is its own small module (one concept per file), and they share labels,
the priority score and the access rules defined here.
"""
