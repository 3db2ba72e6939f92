"""Secure messaging: care teams, channels, direct conversations and broadcasts; messages sealed
at rest, attachments served only through an authenticated route, read receipts and a blind search
index. No Reflex here: the state layer calls these functions and announces changes afterwards."""
