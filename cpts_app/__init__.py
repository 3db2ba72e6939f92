"""CPTS coordination platform: shared agenda, orientation, messaging, offline field module."""
