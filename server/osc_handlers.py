"""What each OSC address does: the handlers of the address-space table, and their job queue.

:class:`Handlers` has one method per address of
:data:`~morphsynth.server.address_space.TABLE` (named by ``Address.handler``); each gets
values already checked against the table, writes into
:class:`~morphsynth.server.control.Controls` and returns a reply or None. A handler of an
asynchronous address (``/render``, ``/library/add``, ``/sync``) checks what it can at once
and leaves the rest to :class:`JobQueue`, so that the handler returns at once; the job
answers ``/done``, ``/synced`` or ``/fail`` itself when it has run.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Callable

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.osc_senders import UdpSender, one_line

if TYPE_CHECKING:
    from morphsynth.server.osc_server import OscServer

log = logging.getLogger("morphsynth.osc")


class JobQueue:
    """One worker thread running asynchronous commands in order."""

    def __init__(self, max_jobs: int = 64):
        self._q: queue.Queue = queue.Queue(maxsize=max_jobs)
        self._thread = threading.Thread(target=self._run, name="osc-jobs", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        try:
            self._q.put_nowait(job)
        except queue.Full:
            raise MorphsynthError(f"the job queue is full ({self._q.maxsize} waiting)") from None

    def __len__(self) -> int:
        return self._q.qsize()

    def _run(self) -> None:
        while True:
            job = self._q.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # a job reports its own errors; this keeps the worker alive
                log.exception("job failed")

    def close(self, timeout: float = 10.0) -> None:
        # Waiting jobs are dropped: a stop must not sit through a queue of renders.
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass
        try:
            self._q.put(None, timeout=1.0)
        except queue.Full:
            pass
        self._thread.join(timeout)


class Handlers:
    """One method per address in the table (named by ``Address.handler``)."""

    def __init__(self, controls, jobs: JobQueue, server: OscServer, info: Callable[[], dict]):
        self.c = controls
        self.jobs = jobs
        self.server = server
        self.info = info

    def note_on(self, s, pitch, velocity, note_id):
        self.c.note_on(pitch, velocity, 0, note_id)

    def note_off(self, s, pitch, note_id):
        self.c.note_off(pitch, 0, note_id)

    def note_bend(self, s, pitch, semitones, note_id):
        self.c.note_bend(pitch, semitones, 0, note_id)

    def bend(self, s, semitones):
        self.c.bend(semitones, 0)

    def sustain(self, s, on):
        self.c.sustain(bool(on), 0)

    def panic(self, s):
        self.c.panic()

    def morph_sources(self, s, names):
        self.c.set_sources(names)

    def morph_weights(self, s, weights):
        self.c.set_weights(weights)

    def morph_xy(self, s, x, y):
        self.c.set_xy(x, y)

    def morph_ramp(self, s, points):
        self.c.set_ramp(points)

    def morph_interp(self, s, mode):
        self.c.set_interp(mode)

    def knob(self, s, index, value):
        self.c.set_knob(index, value)

    def adsr(self, s, attack, decay, sustain, release):
        self.c.set_adsr(attack, decay, sustain, release)

    def gain(self, s, db):
        self.c.set_gain_db(db)

    def render(self, s, path, pitch, velocity, duration):
        def job():
            try:
                self.c.render_to_file(path, pitch, velocity, duration)
            except MorphsynthError as exc:
                s.fail("/render", one_line(exc))
            except Exception as exc:
                s.fail("/render", f"internal error: {type(exc).__name__}: {one_line(exc)}")
            else:
                s.send("/done", "/render", path)

        # Check the path now, so a bad one fails at once and not after the queue.
        from morphsynth.server.control import confined_path

        if not path.lower().endswith(".wav"):
            raise MorphsynthError(f"render: '{path}' must end in .wav")
        confined_path(self.c.output_dir, path, "render")
        self.jobs.submit(job)

    def library_list(self, s, text):
        return ("/library/list.reply", *self.c.library_names(text))

    def library_add(self, s, path, name, pitch=None):
        from morphsynth.server.control import confined_path

        confined_path(self.c.input_dir, path, "library/add")

        def job():
            try:
                self.c.add_source(path, name, pitch)
            except MorphsynthError as exc:
                s.fail("/library/add", one_line(exc))
            except Exception as exc:
                s.fail("/library/add", f"internal error: {type(exc).__name__}: {one_line(exc)}")
            else:
                s.send("/done", "/library/add", name)

        self.jobs.submit(job)

    def status(self, s):
        i = self.info()
        return ("/status.reply", int(i["active_voices"]), int(i["polyphony"]), int(i["hits"]),
                int(i["misses"]), int(i["xruns"]), int(i["queue_length"]) + len(self.jobs),
                int(i["dropped"]) + self.server.dropped + self.server.kernel_dropped, str(i["model"]),
                str(i["device"]),
                float(i["sample_rate"]))

    def notify(self, s, on, port):
        if on:
            target = s if port is None else UdpSender(self.server, (s.host, port))
            self.server.register(s.key, target)
        else:
            self.server.unregister(s.key)
        return ("/done", "/notify")

    def reply_port(self, s, port):
        self.server.reply_ports[s.key] = (s.host, port)
        return ("/done", "/reply/port")

    def sync(self, s, sync_id):
        engine = self.c.engine

        def job():
            # Notes still rendering (cache misses) come first: they end in engine commands.
            self.c.wait_requests(30.0)
            mark = engine.commands_written
            # Engine commands are done once the audio thread has drained them.
            deadline = time.monotonic() + 2.0
            while getattr(engine, "clock_running", False) and engine.commands_done < mark \
                    and time.monotonic() < deadline:
                time.sleep(0.001)
            s.send("/synced", sync_id)

        self.jobs.submit(job)
