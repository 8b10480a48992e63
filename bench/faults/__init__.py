"""The fault suite (issue 9): the real service under bursts, crashes, scale-out,
hostile upstreams, slow clients and a soak, checked for lost work.

``bench/fault_suite.py`` is the command line; ``tests/faults`` runs the quick
modes under pytest. ``harness`` holds what every scenario shares (the world of
fake upstreams and tickets, the signed burst, the oracle that says what each
ticket should carry); one module per scenario says what is done to the service.
"""
