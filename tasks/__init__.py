"""Background work: Celery app, tasks, notification channels, the scheduler."""
