"""The production Celery app with acknowledgement at task start, for the negative control
in tests/test_faults.py only (`celery -A tests.celery_acks_early worker`)."""
from workers.app import app

app.conf.task_acks_late = False
app.conf.task_reject_on_worker_lost = False
