"""MIDI input (mido over python-rtmidi) mapped onto the control state.

Note on/off with velocity, sustain pedal (CC64), pitch bend with its range set by
RPN 0 (default +-2 semitones), the CC map to morph controls (x, y, gain, knobN; the
live one in ``Controls.cc_map``, which presets change), program change to presets
(:meth:`MidiMapper.program`), and MPE: with ``mpe`` on, channels 2-16
are member channels whose bend (+-48 semitones by default) and pressure act only on
the notes started on them, while channel 1's bend moves every note. A member channel's
slide (CC74) and pressure can also move its note's own morph along an axis
(``mpe_slide``, ``mpe_pressure``: x, y or a knob; :mod:`morphsynth.server.voice_morph`);
pressure scales the note's amplitude unless configured otherwise.

The rtmidi API is chosen by config: ``auto`` lets rtmidi pick (ALSA on Linux,
CoreMIDI on macOS); ``UNIX_JACK`` is for machines with JACK but no ALSA sequencer.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
from typing import Callable

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.native_noise import jack_module, quiet_device_probe
from morphsynth.server.server_config import MidiSettings

log = logging.getLogger("morphsynth.midi")

KNOB_RANGE_SD = 3.0  # a knob CC sweeps -3..+3 standard deviations, 64 near the centre
SLIDE_CC = 74        # MPE's slide (the third dimension of touch)
# Ids of the notes on MPE member channels: above any OSC client's id (0..2**31-1), so
# that one note's own morph reaches its voice alone.
MPE_NOTE_IDS = 1 << 40


def pitchwheel_to_semitones(value: int, bend_range: float) -> float:
    """mido pitchwheel ``-8192..8191`` to semitones; both extremes reach the full range."""
    return bend_range * (value / 8192.0 if value < 0 else value / 8191.0)


def cc_to_unit(value: int) -> float:
    return value / 127.0


def slide_to_offset(value: int) -> float:
    """CC ``0..127`` to ``-1..1`` with 64 exactly 0: MPE controllers rest slide at 64."""
    return (value - 64) / (63.0 if value >= 64 else 64.0)


def axis_scale(axis: str) -> float:
    """An MPE unit offset (slide -1..1, pressure 0..1) in ``axis`` units: the pad's for x
    and y, ``KNOB_RANGE_SD`` standard deviations for a knob (as the CC map's knobs)."""
    return 1.0 if axis in ("x", "y") else KNOB_RANGE_SD


def cc_to_db(value: int) -> float:
    """A volume curve: 127 -> 0 dB, 64 -> -12 dB, 0 -> -120 dB."""
    return -120.0 if value <= 0 else max(-120.0, 40.0 * math.log10(value / 127.0))


class MidiMapper:
    """Turns mido messages into :class:`~morphsynth.server.control.Controls` calls."""

    def __init__(self, controls, settings: MidiSettings):
        self.c = controls
        self.s = settings
        self.bend_range = [settings.bend_range] + [
            settings.mpe_bend_range if settings.mpe else settings.bend_range] * 15
        self._rpn = [(127, 127)] * 16
        self.received = 0
        self.errors = 0
        # Keys held from MIDI, so a client that vanishes can have its notes released.
        self.held: set[tuple[int, int]] = set()
        self.pedals: set[int] = set()
        self._held_lock = threading.Lock()
        self.released_on_disconnect = 0
        self._note_ids = itertools.count(MPE_NOTE_IDS)
        self._member_notes: dict[int, tuple[int, int]] = {}   # member channel -> (pitch, note id) held
        # Member channel -> {source: (axis, offset)}: channel state, so a note struck after
        # its slide or pressure was sent starts from them.
        self._member_offsets: dict[int, dict[str, tuple[str, float]]] = {}

    def handle(self, msg) -> None:
        """Apply one mido message; user-level problems are logged, never raised."""
        self.received += 1
        try:
            self._handle(msg)
        except MorphsynthError as exc:
            self.errors += 1
            log.warning("MIDI %s: %s", msg.type, exc)

    def _handle(self, msg) -> None:
        kind = msg.type
        ch = getattr(msg, "channel", 0)
        if kind == "note_on":
            if 21 <= msg.note <= 108:
                with self._held_lock:
                    (self.held.add if msg.velocity else self.held.discard)((ch, msg.note))
                if msg.velocity and self._member(ch):
                    self._member_note_on(ch, msg.note, msg.velocity)
                else:
                    self._member_note_off(ch, msg.note)
                    self.c.note_on(msg.note, msg.velocity, ch)
        elif kind == "note_off":
            with self._held_lock:
                self.held.discard((ch, msg.note))
            self._member_note_off(ch, msg.note)
            self.c.note_off(msg.note, ch)
        elif kind == "pitchwheel":
            self.c.bend(pitchwheel_to_semitones(msg.pitch, self.bend_range[ch]), ch)
        elif kind in ("aftertouch", "polytouch") and self._member(ch) and self.s.mpe_pressure != "gain":
            self._member_axis(ch, "pressure", self.s.mpe_pressure, cc_to_unit(msg.value))
        elif kind == "aftertouch":
            self.c.pressure(cc_to_unit(msg.value), ch)
        elif kind == "polytouch" and self._member(ch):
            # Per-note pressure: only an MPE member channel holds a single note.
            self.c.pressure(cc_to_unit(msg.value), ch)
        elif kind == "program_change":
            self.program(msg.program)
        elif kind == "control_change":
            self._control(ch, msg.control, msg.value)

    def program(self, number: int) -> None:
        """Program change: ``midi.presets`` maps ``number`` to a preset name or to a list of
        sources (at the XY corners); a number it does not list recalls the preset file
        named by the number (``5.yaml``)."""
        target = self.s.presets.get(number)
        if isinstance(target, list):
            self.c.set_sources(list(target))
            return
        try:
            self.c.load_preset(target if target is not None else str(number))
        except MorphsynthError as exc:
            raise MorphsynthError(f"program {number}: {exc}") from None

    def _member(self, ch: int) -> bool:
        return self.s.mpe and ch != 0

    def _member_note_on(self, ch: int, pitch: int, velocity: int) -> None:
        """A note on an MPE member channel: an id of its own, and the channel's slide and
        pressure offsets from the start."""
        note_id = next(self._note_ids)
        self._member_notes[ch] = (pitch, note_id)
        self.c.note_on(pitch, velocity, ch, note_id)
        for source, (axis, offset) in self._member_offsets.get(ch, {}).items():
            if offset:
                self.c.voice_offset(ch, pitch, note_id, source, axis, offset)

    def _member_note_off(self, ch: int, pitch: int) -> None:
        if self._member_notes.get(ch, (-1, -1))[0] == pitch:
            del self._member_notes[ch]

    def _member_axis(self, ch: int, source: str, axis: str, unit: float) -> None:
        """Slide or pressure (``unit``: -1..1 or 0..1) on member channel ``ch`` moves the
        morph of the note held there along ``axis`` (``none``: nothing)."""
        if axis == "none":
            return
        offset = unit * axis_scale(axis)
        self._member_offsets.setdefault(ch, {})[source] = (axis, offset)
        held = self._member_notes.get(ch)
        if held is not None:
            self.c.voice_offset(ch, held[0], held[1], source, axis, offset)

    def release_all(self) -> int:
        """Note-off for every key held from MIDI and pedal up: the sender is gone. Returns the count."""
        with self._held_lock:
            held, pedals = sorted(self.held), sorted(self.pedals)
            self.held.clear()
            self.pedals.clear()
        self._member_notes.clear()
        for ch, note in held:
            self.c.note_off(note, ch)
        for ch in pedals:
            self.c.sustain(False, ch)
        self.released_on_disconnect += len(held)
        return len(held)

    def _control(self, ch: int, cc: int, value: int) -> None:
        if cc == 64:
            with self._held_lock:
                (self.pedals.add if value >= 64 else self.pedals.discard)(ch)
            self.c.sustain(value >= 64, ch)
        elif cc == 101:
            self._rpn[ch] = (value, self._rpn[ch][1])
        elif cc == 100:
            self._rpn[ch] = (self._rpn[ch][0], value)
        elif cc == 6 and self._rpn[ch] == (0, 0):
            # RPN 0 (pitch bend sensitivity): data entry MSB = semitones.
            self.bend_range[ch] = float(value)
        elif cc == 38 and self._rpn[ch] == (0, 0):
            self.bend_range[ch] = math.floor(self.bend_range[ch]) + value / 100.0
        elif cc in (120, 123):
            with self._held_lock:
                self.held.clear()
                self.pedals.clear()
            self._member_notes.clear()
            self.c.panic()
        elif cc == SLIDE_CC and self._member(ch) and self.s.mpe_slide != "none":
            self._member_axis(ch, "slide", self.s.mpe_slide, slide_to_offset(value))
        else:
            target = self.c.cc_map.get(cc, "")   # one read: a preset load may swap the map
            if target == "x":
                self.c.set_xy(cc_to_unit(value), self.c.y)
            elif target == "y":
                self.c.set_xy(self.c.x, cc_to_unit(value))
            elif target == "gain":
                self.c.set_gain_db(cc_to_db(value))
            elif target.startswith("knob"):
                self.c.set_knob(int(target[4:]), (cc_to_unit(value) * 2.0 - 1.0) * KNOB_RANGE_SD)


class JackMidiWatch:
    """Calls ``on_gone()`` when a JACK connection to our MIDI input disappears.

    rtmidi says nothing when a sending client dies, which leaves its notes hanging
    (FluidSynth #1129); JACK drops the dead client's connections at once, so a
    non-activated JACK client polling the connection count sees it go.
    """

    def __init__(self, port_name: str, on_gone: Callable[[], None], interval_s: float = 0.1):
        jack = jack_module()
        self.port_name = port_name
        self.on_gone = on_gone
        self.interval_s = interval_s
        self.client = jack.Client("morphsynth-midi-watch", no_start_server=True)
        self.connections = self._count()
        self.disconnects = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="midi-watch", daemon=True)
        self._thread.start()

    def _count(self) -> int:
        ports = [p for p in self.client.get_ports(is_midi=True, is_input=True)
                 if p.name.split(":", 1)[-1] == self.port_name]
        return sum(len(self.client.get_all_connections(p)) for p in ports)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                n = self._count()
            except Exception:  # JACK itself went away: the audio side reports that
                continue
            if n < self.connections:
                self.disconnects += 1
                self.on_gone()
            self.connections = n

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        try:
            self.client.close()
        except Exception:
            pass


def midi_backend(api: str):
    import mido

    return mido.Backend("mido.backends.rtmidi", api=None if api == "auto" else api, load=True)


class MidiInput:
    """An rtmidi input port (virtual or existing) feeding a :class:`MidiMapper`."""

    def __init__(self, controls, settings: MidiSettings):
        self.settings = settings
        self.mapper = MidiMapper(controls, settings)
        self.port = None
        self.name = ""
        self.watch: JackMidiWatch | None = None

    def open(self) -> "MidiInput":
        with quiet_device_probe():
            try:
                return self._open(self.settings.api)
            except MorphsynthError:
                # Linux machines with JACK but no ALSA sequencer still have JACK MIDI.
                if self.settings.api != "auto":
                    raise
                try:
                    return self._open("UNIX_JACK")
                except MorphsynthError:
                    pass
                raise

    def _open(self, api: str) -> "MidiInput":
        s = self.settings
        try:
            backend = midi_backend(api)
            if s.port == "virtual":
                self.port = backend.open_input(s.client_name, virtual=True, callback=self.mapper.handle)
            else:
                names = backend.get_input_names()
                matches = [n for n in names if s.port == n] or [n for n in names if s.port.lower() in n.lower()]
                if not matches:
                    known = ", ".join(f"'{n}'" for n in names) or "none"
                    raise MorphsynthError(f"--midi: no input port matches '{s.port}' (have: {known}); "
                                          "use --midi virtual or --midi none")
                self.port = backend.open_input(matches[0], callback=self.mapper.handle)
        except MorphsynthError:
            raise
        except Exception as exc:
            raise MorphsynthError(f"--midi {s.port}: cannot open a MIDI input with the {api} API "
                                  f"({' '.join(str(exc).split())}); use --midi none, or midi.api: "
                                  "UNIX_JACK when JACK runs without an ALSA sequencer") from None
        self.name = getattr(self.port, "name", s.port)
        if api == "UNIX_JACK":
            try:
                self.watch = JackMidiWatch(self.name, self._client_left)
            except Exception as exc:  # watching is a safety net, not a reason to refuse MIDI
                log.warning("MIDI: cannot watch the port's JACK connections (%s)", exc)
        return self

    def _client_left(self) -> None:
        count = self.mapper.release_all()
        log.warning("MIDI: a client disconnected from '%s'; released %d held notes", self.name, count)

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
            self.watch = None
        if self.port is not None:
            self.port.close()
            self.port = None
