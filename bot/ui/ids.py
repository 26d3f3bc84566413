"""Action, view and block ids shared by the message builders and the listeners."""

DECLARE_VIEW = "incident_declare"
RESOLVE_VIEW = "incident_resolve"
REVIEW_VIEW = "incident_review"

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

# Runbook steps: one action id per step (unique within the message), matched by prefix.
STEP_PREFIX = "step:"
APPROVE = "approval_approve"
DENY = "approval_deny"
BREAK_GLASS = "approval_break_glass"
ATTACH_RUNBOOK = "attach_runbook"
STEP_INPUTS_VIEW = "step_inputs"
BREAK_GLASS_VIEW = "break_glass"
BREAK_GLASS_REASON = "reason"
INPUT_PREFIX = "input:"

PAGE_ACK = "page_acknowledge"
OPEN_UPDATE = "open_update_form"
STATUS_PAGE_POSTED = "status_page_posted"
UPDATE_VIEW = "status_update"
UPDATE_TEXT = "update_text"
UPDATE_BROADCAST = "update_broadcast"
DETECTED_AT = "detected_at"

ALERT_DECLARE = "alert_declare"
ALERT_DISMISS = "alert_dismiss"
HOME_DECLARE = "home_declare"
