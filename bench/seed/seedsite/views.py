"""The seed's four views (../shared/seed/async-view.ko.md), as written there, but for one thing:
`/sleep` takes `?seconds=S`, the seed's 5 s when absent, so the benchmark can ask for its own.

Then the views the seed did not have, so that `compare --seed` can hold its stack beside ours
for every kind of wait (each sync, and async as an async Django view would be written):

- `/query`: a real PostgreSQL call through Django's own database connection. The async one
  awaits `sync_to_async`, which is what Django's async ORM methods (`aget`, `acount`, ...) do
  inside: the query runs on a thread, on that thread's own connection.
- `/fetch?count=K`: K calls to `SEED_UPSTREAM`'s `/sleep`: one after another with urllib, or
  all at once with asyncio's own streams, gathered.
- `/compute`: CPU-bound work until the thread has used S seconds of CPU time; in the async view
  it runs on the event loop, as any computing in a coroutine does.
- `/block` (async only): the mistake, `time.sleep` in a coroutine.

They say which threads and which database backend served them, in the headers compare reads
(`X-Pid`, `X-Tid`, `X-Db-Pid`, and `X-Work-Tid` for the thread that ran the query when it is
another)."""
import asyncio
import os
import threading
import time
import urllib.request
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpResponse
from django.views import View


def seconds(request):
    return float(request.GET.get("seconds", 5))


class SyncSleep(View):
    def get(self, request, *args, **kwargs):
        print("START PID", os.getpid(), "TID", threading.get_native_id())
        time.sleep(seconds(request))
        return HttpResponse("sleep")


class SyncNoSleep(View):
    def get(self, request, *args, **kwargs):
        print("START PID", os.getpid(), "TID", threading.get_native_id())
        return HttpResponse("no sleep")


class AsyncSleep(View):
    async def get(self, request, *args, **kwargs):
        print("START PID", os.getpid(), "TID", threading.get_native_id())
        await asyncio.sleep(seconds(request))
        return HttpResponse("sleep")


class AsyncNoSleep(View):
    async def get(self, request, *args, **kwargs):
        print("START PID", os.getpid(), "TID", threading.get_native_id())
        return HttpResponse("no sleep")


def run_query(wait):
    """The database waits `wait` seconds; returns its backend's process id and this thread's id.
    `connection` is this thread's own: Django keeps one per thread."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid() FROM pg_sleep(%s)", [wait])
        (backend,) = cursor.fetchone()
    return backend, threading.get_native_id()


def answered(view_thread, backend, query_thread):
    response = HttpResponse("query")
    response["X-Pid"] = str(os.getpid())
    response["X-Tid"] = str(view_thread)
    if query_thread != view_thread:
        response["X-Work-Tid"] = str(query_thread)
    response["X-Db-Pid"] = str(backend)
    return response


class SyncQuery(View):
    def get(self, request, *args, **kwargs):
        me = threading.get_native_id()
        print("START PID", os.getpid(), "TID", me)
        backend, query_thread = run_query(seconds(request))
        return answered(me, backend, query_thread)


class AsyncQuery(View):
    async def get(self, request, *args, **kwargs):
        me = threading.get_native_id()
        print("START PID", os.getpid(), "TID", me)
        backend, query_thread = await sync_to_async(run_query)(seconds(request))
        return answered(me, backend, query_thread)


def named(body):
    response = HttpResponse(body)
    response["X-Pid"] = str(os.getpid())
    response["X-Tid"] = str(threading.get_native_id())
    return response


def count(request):
    return int(request.GET.get("count", 1))


def upstream_sleep(wait):
    return f"{os.environ['SEED_UPSTREAM'].rstrip('/')}/sleep?seconds={wait}"


def compute(wait):
    """Works the CPU until this thread has used `wait` seconds of it."""
    until = time.thread_time() + wait
    while time.thread_time() < until:
        sum(range(1000))


class SyncFetch(View):
    def get(self, request, *args, **kwargs):
        print("START PID", os.getpid(), "TID", threading.get_native_id())
        url = upstream_sleep(seconds(request))
        for _ in range(count(request)):
            with urllib.request.urlopen(url, timeout=seconds(request) + 10) as answer:
                answer.read()
        return named("fetch")


async def call(url, wait):
    """One GET on a connection of its own, with asyncio's streams: the answer read to its end."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    target = f"{parts.path}?{parts.query}"
    writer.write(f"GET {target} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode())
    await writer.drain()
    await asyncio.wait_for(reader.read(), timeout=wait + 10)
    writer.close()
    await writer.wait_closed()


class AsyncFetch(View):
    async def get(self, request, *args, **kwargs):
        print("START PID", os.getpid(), "TID", threading.get_native_id())
        url = upstream_sleep(seconds(request))
        await asyncio.gather(*(call(url, seconds(request)) for _ in range(count(request))))
        return named("fetch")


class SyncCompute(View):
    def get(self, request, *args, **kwargs):
        print("START PID", os.getpid(), "TID", threading.get_native_id())
        compute(seconds(request))
        return named("compute")


class AsyncCompute(View):
    async def get(self, request, *args, **kwargs):
        print("START PID", os.getpid(), "TID", threading.get_native_id())
        compute(seconds(request))
        return named("compute")


class AsyncBlock(View):
    async def get(self, request, *args, **kwargs):
        print("START PID", os.getpid(), "TID", threading.get_native_id())
        time.sleep(seconds(request))
        return named("block")
