"""Notifications: events recorded with the change that caused them, delivered to webhook
and email subscribers by django-q2 tasks with retries and a delivery log."""
