"""Coordination state shared by every replica: cache, dedupe, rate windows and locks."""
