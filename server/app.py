"""The running server: model + library + renderer + engine + audio + OSC + MIDI.

:func:`build_renderer` loads the model and library named by a :class:`ServeConfig`;
:class:`SynthServer` wires the renderer to the engine, control state, audio output,
OSC servers and MIDI input, and owns their lifecycle. :meth:`SynthServer.serve_forever`
stops cleanly on Ctrl-C or SIGTERM: audio stops, the recording is closed (a valid
WAV), ports are released.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Callable

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.audio_io import Recorder, open_output
from morphsynth.server.audio_process import AudioProcess
from morphsynth.server.control import Controls
from morphsynth.server.engine import Engine
from morphsynth.server.hotswap import models_dir_for
from morphsynth.server.envelope import Adsr
from morphsynth.server.midi import MidiInput
from morphsynth.server.osc_server import OscServer
from morphsynth.core.synth_model import default_model_dir
from morphsynth.server.server_config import ServeConfig

log = logging.getLogger("morphsynth.server")


def build_renderer(cfg: ServeConfig):
    """Load the model and its library; returns a Renderer at the audio sample rate."""
    from morphsynth.server.library import Library
    from morphsynth.server.renderer import Renderer
    import torch

    from morphsynth.core.device import pick_device
    from morphsynth.core.synth_model import load_synth_model

    model_dir = Path(cfg.model) if cfg.model else default_model_dir()
    if not model_dir.is_dir():
        raise MorphsynthError(f"model folder '{model_dir}' not found (give --model or set MORPHSYNTH_MODEL)")
    library_path = Path(cfg.library) if cfg.library else model_dir / "library.safetensors"
    if not library_path.is_file():
        raise MorphsynthError(f"library '{library_path}' not found (give --library, or build one with "
                              f"'morphsynth library build --model {model_dir}')")
    device = pick_device(None if cfg.renderer.device == "auto" else cfg.renderer.device, "renderer.device")
    if device.type == "cpu":
        # Leave a core to the audio callback: a render that takes every core starves it.
        torch.set_num_threads(cfg.renderer.threads or max(1, (os.cpu_count() or 2) - 1))
    model = load_synth_model(model_dir, device=device)
    library = Library.load(library_path, model)
    return Renderer(model, library, out_rate=cfg.audio.sample_rate, phase=cfg.renderer.phase,
                    cache_mb=cfg.renderer.cache_mb, prerender_all=cfg.renderer.prerender_all)


class SynthServer:
    """Everything ``morphsynth serve`` runs, built from a config and a renderer.

    ``start()`` opens MIDI first, then audio, then the OSC sockets (an rtmidi JACK
    port opened while a JACK client of this process is active can deadlock).
    """

    def __init__(self, cfg: ServeConfig, renderer, model_name: str | None = None,
                 midi_required: bool = True):
        a = cfg.audio
        self.cfg = cfg
        self.renderer = renderer
        self.model_name = model_name or str(getattr(getattr(renderer, "model", None), "name", "?"))
        self._served_model = getattr(renderer, "model", None)
        self.midi_required = midi_required
        if getattr(renderer, "out_rate", a.sample_rate) != a.sample_rate:
            raise MorphsynthError(f"renderer rate {renderer.out_rate} Hz differs from audio.sample_rate "
                                  f"{a.sample_rate} Hz")
        adsr = Adsr(cfg.envelope.attack, cfg.envelope.decay, cfg.envelope.sustain, cfg.envelope.release)
        adsr.validate()
        self._engine_args = dict(sample_rate=a.sample_rate, polyphony=a.polyphony,
                                 max_block=max(4096, a.block_size), adsr=adsr, gain_db=a.gain_db,
                                 fade_ms=a.fade_ms, loop_xfade_ms=a.loop_xfade_ms,
                                 swap_ms=cfg.morph.follow_xfade_ms)
        self.engine = Engine(**self._engine_args)
        self._shared = None
        if a.own_process:
            note_samples = getattr(renderer, "note_samples", None) or 6 * a.sample_rate
            self._shared = self.engine.share_memory(note_samples)
        self.osc: OscServer | None = None
        self.web = None   # the browser control surface (server/web.py), once started
        m = cfg.morph
        self.controls = Controls(self.engine, renderer, sources=m.sources, x=m.x, y=m.y, interp=m.interp,
                                 knobs=m.knobs, adsr=adsr, gain_db=a.gain_db,
                                 output_dir=cfg.paths.output_dir, input_dir=cfg.paths.input_dir,
                                 notify=self._notify, follow=m.follow, cc_map=cfg.midi.cc_map,
                                 presets_dir=cfg.paths.presets_dir,
                                 models_dir=models_dir_for(cfg.paths.models_dir, cfg.model))
        self.osc = OscServer(self.controls, self.info, cfg.osc.host, cfg.osc.port,
                             cfg.osc.tcp_port or None, cfg.osc.max_datagram, allow=cfg.osc.allow)
        self.recorder = (Recorder(a.record, a.sample_rate, a.record_buffer_s, shared=a.own_process)
                         if a.record else None)
        self.output = None
        self.midi = MidiInput(self.controls, cfg.midi) if cfg.midi.port != "none" else None
        self.midi_error: str | None = None
        self._stop = threading.Event()
        self._stopped = False

    def _resend_sound(self) -> None:
        self.engine.set_adsr(self.controls.adsr)
        self.engine.set_gain_db(self.controls.gain_db)

    def _notify(self, address: str, *args) -> None:
        if self.osc is not None:
            self.osc.notify(address, *args)

    def _model_name(self) -> str:
        # After /model/load the renderer plays another model than the one named at start.
        model = getattr(self.renderer, "model", None)
        return self.model_name if model is self._served_model else str(getattr(model, "name", "?"))

    @property
    def device_name(self) -> str:
        name = getattr(self.output, "device_name", "none")
        return f"{name} (lost)" if getattr(self.output, "stream_lost", False) else name

    def info(self) -> dict:
        stats = self.renderer.stats()
        return {
            "active_voices": self.engine.active_voices(), "polyphony": self.engine.polyphony,
            "hits": stats.get("hits", 0), "misses": stats.get("misses", 0), "xruns": self.engine.xruns,
            "queue_length": stats.get("queue_length", 0), "dropped": self.engine.dropped_commands,
            "model": self._model_name(), "device": self.device_name, "sample_rate": self.engine.sample_rate,
        }

    def start(self) -> "SynthServer":
        a = self.cfg.audio
        if not a.own_process:
            # A callback in this process waits for the GIL whenever another thread holds it;
            # CPython's default 5 ms hand-over is a whole 256-frame period.
            sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
        try:
            if self.midi is not None:
                try:
                    self.midi.open()
                except MorphsynthError as exc:
                    if self.midi_required:
                        raise
                    self.midi_error = str(exc)
                    self.midi = None
            if a.own_process:
                self.output = AudioProcess(self.engine, self._engine_args, a.device, a.sample_rate,
                                           a.block_size, a.channels, a.latency, self.recorder,
                                           on_restart=self._resend_sound)
            else:
                self.output = open_output(self.engine, a.device, a.sample_rate, a.block_size, a.channels,
                                          a.latency, self.recorder)
            self.output.start()
            self.osc.start()
            if self.cfg.web.enabled:
                from morphsynth.server.web import WebSurface

                host, port = self.cfg.web.bind(self.cfg.osc, self.osc.udp_port)
                self.web = WebSurface(self.osc, host, port, allow=self.cfg.osc.allow).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop audio, close the recording, release sockets and ports. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        if self.web is not None:
            self.web.stop()
        if self.osc is not None:
            self.osc.stop()
        if self.output is not None:
            self.output.stop()
        if self.midi is not None:
            self.midi.close()
        if self.recorder is not None:
            self.recorder.close()
        close = getattr(self.renderer, "close", None)
        if close is not None:
            close()
        if self._shared is not None:
            for mapping in (self._shared[0].file, self._shared[1].file):
                mapping.close()

    def request_stop(self, *_args) -> None:
        self._stop.set()

    def serve_forever(self, ready: Callable[[], None] | None = None) -> None:
        """Run until Ctrl-C or SIGTERM (main thread only), then stop cleanly; ``ready()`` is
        called once the signals are caught (a client that sees what it prints may stop us)."""
        previous = {sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if ready is not None:
                ready()
            while not self._stop.wait(0.5):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()

    def describe(self) -> str:
        osc = self.osc
        midi = (f"MIDI in '{self.midi.name}'" if self.midi is not None
                else f"MIDI off ({self.midi_error})" if self.midi_error else "MIDI off")
        tcp = f", TCP {osc.tcp_port}" if osc.tcp_port else ""
        rec = f", recording to {self.recorder.path}" if self.recorder else ""
        page = f"; control page {self.web.url}" if self.web is not None else ""
        return (f"morphsynth: serving '{self.model_name}' on OSC {osc.host} UDP {osc.udp_port}{tcp}{page}; "
                f"audio '{self.device_name}' {self.engine.sample_rate} Hz{rec}; {midi}; "
                f"morph {', '.join(self.controls.sources)} at x={self.controls.x:g} y={self.controls.y:g}. "
                "Ctrl-C stops.")


def print_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
