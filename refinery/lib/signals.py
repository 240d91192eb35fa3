"""Signals an earlier stage sends so a later one can react without being imported by it
(the flow's imports point one way: inputs and plans never import builds)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after the commit of a PendingInput's status change: ``input_id``, ``status``.
input_status_changed = Signal()
