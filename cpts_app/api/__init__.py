"""HTTP routes for machines and for the few browser actions that must set HttpOnly cookies."""
