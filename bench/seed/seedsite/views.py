"""The seed's four views (../shared/seed/async-view.ko.md), as written there, but for one thing:
`/sleep` takes `?seconds=S`, the seed's 5 s when absent, so the benchmark can ask for its own."""
import asyncio
import os
import threading
import time

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
