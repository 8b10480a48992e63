"""The pure domain: the plan, paging rules and the models adapters and planner share."""
