"""The agents' ticket sidebar app's API: GET /api/tickets/<id>/sla."""
