"""Action, view and block ids shared by the message builders and the listeners."""

DECLARE_VIEW = "incident_declare"
RESOLVE_VIEW = "incident_resolve"

SIMILAR_JOIN = "similar_join"
SIMILAR_DECLARE = "similar_declare_anyway"

# Input blocks: block_id == action_id, so view state reads as state[id][id].
TITLE = "title"
SEVERITY = "severity"
DESCRIPTION = "description"
RUNBOOK = "runbook"
PRIVATE = "private"
ROOT_CAUSE = "root_cause"
IMPACT_USERS = "impact_users"
IMPACT_REVENUE = "impact_revenue"
WENT_WELL = "went_well"
TO_IMPROVE = "to_improve"
ACTION_ITEMS = "action_items"
