"""`sidecar doctor`: check the whole installation, read-only, as a checklist."""
