"""Test support: a movable clock, a signed-request sender and the running bot."""
