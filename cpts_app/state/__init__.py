"""Reflex State classes: thin adapters that call services and expose what the screen shows."""
