"""The shared agenda: availability rules, slots, médicobus tours, bookings, search and views.

Why a package: each concept (recurrence, availability, tours, booking, search…) is one module;
they share the models of ``models.agenda`` and never import Reflex.
"""
