"""Queue priority, shared by the plan queue (inputs) and the build queue (builds)."""

from django.db import models


class Priority(models.IntegerChoices):
    """Stored as an integer so the claim query can order by it with an index."""

    LOW = 0, "low"
    NORMAL = 1, "normal"
    HIGH = 2, "high"
    CRITICAL = 3, "critical"

    @classmethod
    def from_name(cls, name: str) -> "Priority":
        """``"high"`` -> ``Priority.HIGH``; raises ``ValueError`` naming the choices."""
        for member in cls:
            if member.label == name:
                return member
        names = ", ".join(str(member.label) for member in cls)
        raise ValueError(f"unknown priority {name!r}; use one of: {names}")
