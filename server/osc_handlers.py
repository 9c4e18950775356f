"""What each OSC address does: the handlers of the address-space table, and their job queue.

:class:`Handlers` has one method per address of
:data:`~morphsynth.server.address_space.TABLE` (named by ``Address.handler``); each gets
values already checked against the table, writes into
:class:`~morphsynth.server.control.Controls` and returns a reply or None. A handler of an
asynchronous address (``/render``, ``/export``, ``/library/add``, ``/sync``) checks what it can at once
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

    def note_morph(self, s, pitch, axis, offset, note_id):
        self.c.voice_offset(0, pitch, note_id, "osc", axis, offset)

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

    def morph_follow(self, s, on):
        self.c.set_follow(bool(on))

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

    def export(self, s, folder, fmt, step, lowest, highest):
        from morphsynth.server import export
        from morphsynth.server.control import confined_path

        # Everything the message says is checked now, so a mistake fails at once and not after the queue.
        export.check_format(fmt)
        if highest < lowest:
            raise MorphsynthError(f"export: highest key {highest} is below lowest {lowest}")
        target = confined_path(self.c.output_dir, folder, "export")
        if target.exists() and not target.is_dir():
            raise MorphsynthError(f"export: '{folder}' is a file, not a folder")
        morph = self.c.current_morph().validate()

        def job():
            try:
                # Re-check inside the job: a symlinked folder could have been swapped in meanwhile.
                out = confined_path(self.c.output_dir, folder, "export")
                export.export_instruments(self.c.renderer, export.single(out.name, morph), out, fmt,
                                          export.key_range(lowest, highest, step),
                                          progress=lambda done, total: self.c.notify("/export/progress", done, total))
            except MorphsynthError as exc:
                s.fail("/export", one_line(exc))
            except Exception as exc:
                s.fail("/export", f"internal error: {type(exc).__name__}: {one_line(exc)}")
            else:
                s.send("/done", "/export", folder)

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

    def model_load(self, s, path, library):
        from morphsynth.server.hotswap import model_paths

        # A bad path fails at once, not after the queue.
        model_paths(self.c.models_dir, path, library)
        self._submit(s, "/model/load", lambda: self.c.load_model(path, library), path)

    def library_load(self, s, path):
        from morphsynth.server.hotswap import library_path

        library_path(self.c.models_dir, path)
        self._submit(s, "/library/load", lambda: self.c.load_library(path), path)

    def _submit(self, s, address: str, work: Callable[[], object], *done) -> None:
        """Run ``work`` on the job queue; it answers ``/done address *done`` or ``/fail``."""
        def job():
            try:
                work()
            except MorphsynthError as exc:
                s.fail(address, one_line(exc))
            except Exception as exc:
                s.fail(address, f"internal error: {type(exc).__name__}: {one_line(exc)}")
            else:
                s.send("/done", address, *done)

        self.jobs.submit(job)

    def latency(self, s):
        from morphsynth.server.latency import latency_reply

        return ("/latency.reply", *latency_reply(self.c.engine, self.c.renderer))

    def status(self, s):
        from morphsynth.server.latency import latency_reply

        i = self.info()
        block, device_ms, last, mean, p99, _count = latency_reply(self.c.engine, self.c.renderer)
        return ("/status.reply", int(i["active_voices"]), int(i["polyphony"]), int(i["hits"]),
                int(i["misses"]), int(i["xruns"]), int(i["queue_length"]) + len(self.jobs),
                int(i["dropped"]) + self.server.dropped + self.server.kernel_dropped, str(i["model"]),
                str(i["device"]), float(i["sample_rate"]), block, device_ms, last, mean, p99)

    def notify(self, s, on, port):
        if not on:
            self.server.unregister(s.key)
            return ("/done", "/notify")
        target = s if port is None else UdpSender(self.server, (s.host, port))
        self.server.register(s.key, target)
        s.send("/done", "/notify")
        # A new controller starts in sync: the whole state first, then each change.
        for message in self.c.state_messages():
            self.server.notify_one(s.key, *message)
        return None

    def preset_save(self, s, name):
        self.c.save_preset(name)
        return ("/done", "/preset/save", name)

    def preset_load(self, s, name):
        self.c.load_preset(name)
        return ("/done", "/preset/load", name)

    def preset_list(self, s):
        return ("/preset/list.reply", *self.c.preset_names())

    def describe(self, s):
        from morphsynth.server.address_space import describe_rows

        rows = describe_rows()
        for row in rows:
            s.send("/describe.reply", *row)
        return ("/done", "/describe", len(rows))

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
