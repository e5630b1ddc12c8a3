"""gunicorn settings; every value can be set from the environment."""

import os

bind = os.environ.get("SER_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SER_WORKERS", "2"))
threads = int(os.environ.get("SER_THREADS", "1"))
timeout = int(os.environ.get("SER_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("SER_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
max_requests = int(os.environ.get("SER_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# No --preload: torch and OpenMP (xgboost) thread pools created before fork can hang the workers.
# Each worker imports the app and loads the model itself, after the fork.
preload_app = False
accesslog = os.environ.get("SER_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("SER_LOG_LEVEL", "info")
limit_request_line = 8190
limit_request_fields = 100


def post_fork(server, worker):
    """One compute thread per worker: the workers are the parallelism, and oversubscription costs latency."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
