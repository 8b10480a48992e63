"""Settings for the whole test suite."""

from hypothesis import settings

# Hypothesis' per-example deadline is a timing assertion: on a loaded 2-core CI
# machine it fails correct code. Performance is measured in bench/, not here.
settings.register_profile("sidecar", deadline=None)
settings.load_profile("sidecar")
