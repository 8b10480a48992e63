"""`sidecar report`: first-response SLA attainment of a period, from the incremental export.

``attainment`` is the pure arithmetic (on the SLA engine), ``source`` reads the
export within its rate limit, ``collect`` streams one into the other, ``charts``
and ``render`` produce the HTML (inline SVG), CSV and JSON.
"""
