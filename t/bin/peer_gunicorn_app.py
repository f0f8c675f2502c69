"""peer_gunicorn_app: a tiny WSGI app for t/peer-gunicorn.t.

Each answer names the clusterd slot, the gunicorn worker that answered
and its gunicorn master (the process clusterd started):
    gunicorn worker ID (pid PID, master PPID)
"""
import os


def app(environ, start_response):
    body = ("gunicorn worker %s (pid %d, master %d)\n" % (
        os.environ.get("CLUSTERD_WORKER_ID"), os.getpid(),
        os.getppid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
