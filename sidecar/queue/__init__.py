"""The queue layer: Huey's two lanes and the store beside them, on SQLite or Redis.

``store`` is the port (claims, leases, in-flight records, the ticket memo,
flags, dead letters, the ready clock); ``sqlite_store`` and ``redis_store``
implement it; ``huey_inside`` is the one module that reaches inside Huey;
``backend`` opens a queue URL. The application's façade is
sidecar.tasks.queue.JobQueue (it registers the jobs, which belong to the
application).
"""
