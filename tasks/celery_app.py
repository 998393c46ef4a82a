"""The Celery app, configured from the Flask app (Flask's celery_init_app pattern).

With REDIS_URL set, tasks go through Redis to `celery -A tasks worker`. Without it (the
embedded default), tasks run eagerly in the process that enqueues them.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask


def init_celery(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    broker = app.config.get("CELERY_BROKER_URL") or app.config.get("REDIS_URL")
    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=broker or "memory://",
        task_always_eager=not broker,
        task_eager_propagates=True,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        # Tasks are idempotent: acknowledge after running, and give a task back to the
        # queue if its worker dies, rather than lose it.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="cadence",
        broker_connection_retry_on_startup=True,
        # Publishing happens in the scheduler's relay, never in a web request; a broker that
        # does not answer fails the publish quickly and the outbox row waits for the next try.
        broker_connection_timeout=2,
        # The worker's budget for reconnecting to a broker it lost (publishing does not use
        # it): without limit, so a Redis outage pauses the workers instead of ending them.
        broker_connection_max_retries=None,
        # On a lost connection, stop running tasks: they are idempotent and, acknowledged
        # late, come back (Celery 6's default).
        worker_cancel_long_running_tasks_on_connection_loss=True,
        broker_transport_options={"visibility_timeout": 3600, "socket_timeout": 2},
        task_publish_retry=False,
    )
    celery.set_default()
    app.extensions["celery"] = celery
    import tasks.jobs  # noqa: F401 - registers the tasks on this app

    return celery
