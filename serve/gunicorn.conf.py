"""gunicorn settings; every value can be set from the environment."""

import os

bind = os.environ.get("SER_BIND") or f"{os.environ.get('SER_HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("SER_WORKERS", "2"))
threads = int(os.environ.get("SER_THREADS", "1"))
# sync workers: a request may run SER_TIMEOUT seconds before its worker is taken for hung and restarted, so the
# default leaves room for /analyze of a two-hour call (about 2 minutes in one worker, BENCHMARKS.md). gthread
# workers (SER_WORKER_CLASS=gthread) never cut a long request, but served 3 s uploads at half the rate here.
worker_class = os.environ.get("SER_WORKER_CLASS", "sync")
timeout = int(os.environ.get("SER_TIMEOUT", "600"))
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
# One compute thread per worker: the workers are the parallelism, and oversubscribed BLAS/OpenMP pools cost
# latency. Set here, before any worker imports numpy (the app is not preloaded).
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(variable, "1")
limit_request_fields = 100
