"""The seed's four views (../shared/seed/async-view.ko.md), as written there, but for one thing:
`/sleep` takes `?seconds=S`, the seed's 5 s when absent, so the benchmark can ask for its own.

Then two views the seed did not have: `/query`, its wait a real PostgreSQL call made through
Django's own database connection, sync and async. The async one awaits `sync_to_async`, which is
what Django's async ORM methods (`aget`, `acount`, ...) do inside: the query runs on a thread,
on that thread's own connection. Both say which threads and which database backend served them,
in the headers compare reads (`X-Pid`, `X-Tid`, `X-Db-Pid`, and `X-Work-Tid` for the thread
that ran the query when it is another)."""
import asyncio
import os
import threading
import time

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
