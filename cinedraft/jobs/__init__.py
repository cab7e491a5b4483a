"""The persistent job queue and the workers that drain it."""

from .queue import Job, JobCancelled, JobQueue, QueueFullError

__all__ = ["Job", "JobCancelled", "JobQueue", "QueueFullError"]
