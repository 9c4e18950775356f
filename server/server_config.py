"""Typed settings of ``morphsynth serve``; the shipped defaults are ``defaults.yaml``.

Only the command line reads YAML (through :func:`load_serve_config`); the server's
classes take these dataclasses or plain values.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

DEFAULTS_YAML = Path(__file__).with_name("defaults.yaml")
DEFAULT_PORT = 57130


@dataclass
class OscSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT          # UDP
    tcp_port: int = DEFAULT_PORT      # TCP (both framings); 0 = no TCP server
    max_datagram: int = 65536
    # Client addresses accepted when host is not a loopback address (required then).
    allow: list[str] = field(default_factory=list)

    def validate(self) -> None:
        for key in ("port", "tcp_port"):
            value = getattr(self, key)
            if not 0 <= value <= 65535:
                raise ValueError(f"{key}: {value} is not a port number (0..65535)")
        for addr in self.allow:
            try:
                ipaddress.ip_address(addr)
            except ValueError:
                raise ValueError(f"allow: '{addr}' is not an IP address") from None
        if not is_loopback(self.host) and not self.allow:
            raise ValueError(f"host: {self.host} is not a loopback address; serving the network needs "
                             "--allow-remote ADDR[,ADDR...] (osc.allow) naming the clients that may send")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class AudioSettings:
    device: str = "default"           # a device name (substring), "default", or "null"
    sample_rate: int = 48000
    block_size: int = 256
    channels: int = 2                 # the mono mix goes to every channel
    latency: float | None = None      # seconds; None = the device's low latency
    polyphony: int = 64
    gain_db: float = -6.0
    fade_ms: float = 5.0              # click-free note-off floor and voice-stealing fade
    loop_xfade_ms: float = 40.0
    record: str | None = None         # WAV path; what is played is written there
    record_buffer_s: float = 4.0      # ring between the audio thread and the WAV writer
    own_process: bool = True          # run the audio callback in a process of its own (no shared GIL)

    def validate(self) -> None:
        if self.sample_rate not in (22050, 24000, 32000, 44100, 48000, 88200, 96000):
            raise ValueError(f"sample_rate: {self.sample_rate} is not a supported rate")
        if not 16 <= self.block_size <= 4096:
            raise ValueError(f"block_size: {self.block_size} is outside 16..4096")
        if not 1 <= self.channels <= 32:
            raise ValueError(f"channels: {self.channels} is outside 1..32")
        if not 1 <= self.polyphony <= 1024:
            raise ValueError(f"polyphony: {self.polyphony} is outside 1..1024")
        if not -120.0 <= self.gain_db <= 24.0:
            raise ValueError(f"gain_db: {self.gain_db} is outside -120..24")


@dataclass
class EnvelopeSettings:
    attack: float = 0.005
    decay: float = 0.1
    sustain: float = 0.8
    release: float = 0.3


@dataclass
class MorphSettings:
    # Empty = the first instrument of each of the library's first four families, at the XY
    # corners (0,0) (1,0) (0,1) (1,1).
    sources: list[str] = field(default_factory=list)
    x: float = 0.5
    y: float = 0.5
    interp: Literal["linear", "slerp"] = "linear"
    knobs: list[float] = field(default_factory=list)
    follow: bool = True               # sounding notes move with the morph (re-rendered, crossfaded)
    follow_xfade_ms: float = 30.0     # the crossfade from a sounding note's old render to its new one

    def validate(self) -> None:
        if not (0.0 <= self.x <= 1.0 and 0.0 <= self.y <= 1.0):
            raise ValueError(f"x, y: ({self.x}, {self.y}) must lie in 0..1")
        if not 1.0 <= self.follow_xfade_ms <= 1000.0:
            raise ValueError(f"follow_xfade_ms: {self.follow_xfade_ms} is outside 1..1000")


# What MPE slide and pressure can move (morphsynth.server.voice_morph.AXES, or nothing).
MPE_AXES = ("x", "y") + tuple(f"knob{i}" for i in range(8)) + ("none",)


@dataclass
class MidiSettings:
    port: str = "virtual"             # "virtual", "none", or the name of an existing input port
    client_name: str = "morphsynth"   # the virtual port's name
    api: Literal["auto", "UNIX_JACK", "LINUX_ALSA", "MACOSX_CORE", "WINDOWS_MM"] = "auto"
    bend_range: float = 2.0           # semitones, until RPN 0 changes it
    mpe: bool = True                  # channels 2-16 carry per-note bend and pressure
    mpe_bend_range: float = 48.0
    # MPE slide (CC74 on a member channel) and pressure move that note's own morph along an
    # axis: x or y of the pad, knob0..knob7, or none; pressure may instead scale its gain.
    mpe_slide: str = "knob0"
    mpe_pressure: str = "gain"
    cc_map: dict[int, str] = field(default_factory=lambda: {1: "x", 2: "y", 74: "knob0"})
    # Program change number -> source names (at the XY corners), or the name of a preset file;
    # a program not listed recalls the preset file named by its number, if there is one.
    presets: dict[int, list[str] | str] = field(default_factory=dict)

    def validate(self) -> None:
        check_cc_map(self.cc_map, "midi.cc_map")
        for key, allowed in (("mpe_slide", MPE_AXES), ("mpe_pressure", ("gain",) + MPE_AXES)):
            value = getattr(self, key)
            if value not in allowed:
                raise ValueError(f"{key}: '{value}' is not {', '.join(allowed[:-1])} or {allowed[-1]}")
        from morphsynth.core.errors import MorphsynthError
        from morphsynth.server.presets import check_name  # presets imports this module

        for program, target in self.presets.items():
            if not 0 <= program <= 127:
                raise ValueError(f"midi.presets: {program} is not a program number (0..127)")
            if isinstance(target, str):
                try:
                    check_name(target)
                except MorphsynthError as exc:
                    raise ValueError(f"midi.presets.{program}: {exc}") from None


def check_cc_map(cc_map: dict[int, str], key: str) -> None:
    """ValueError naming ``key`` unless every entry maps a free controller to x, y, gain or knob0..knob7."""
    for cc, target in cc_map.items():
        if not 0 <= cc <= 127:
            raise ValueError(f"{key}: {cc} is not a controller number (0..127)")
        if cc in (6, 38, 64, 100, 101, 120, 121, 123):
            raise ValueError(f"{key}: CC{cc} is reserved (RPN, sustain, all-off)")
        if not (target in ("x", "y", "gain") or (target.startswith("knob") and target[4:].isdigit()
                                                 and int(target[4:]) < 8)):
            raise ValueError(f"{key}.{cc}: '{target}' is not x, y, gain or knob0..knob7")


@dataclass
class PathSettings:
    output_dir: str = "renders"       # /render writes only inside this folder
    input_dir: str = "."              # /library/add reads only inside this folder
    presets_dir: str | None = None    # /preset/save and /preset/load; None = ~/Documents/morphsynth/presets
    models_dir: str | None = None     # /model/load, /library/load read only inside; None = the served model's parent


@dataclass
class RendererSettings:
    phase: Literal["fast", "quality"] = "fast"
    cache_mb: float = 256.0
    prerender_all: bool = True        # after a morph change, pre-render every key, not only recent ones
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"   # auto: CUDA, then MPS, else CPU
    threads: int = 0                  # torch threads for CPU rendering; 0 = all cores but one

    def validate(self) -> None:
        if self.threads < 0:
            raise ValueError(f"threads: {self.threads} is negative")
        if self.cache_mb <= 0:
            raise ValueError(f"cache_mb: {self.cache_mb} is not positive")


@dataclass
class WebSettings:
    enabled: bool = True              # the browser control surface (server/web.py)
    host: str | None = None           # None = osc.host; off loopback, osc.allow lists who may connect
    port: int | None = None           # None = the OSC UDP port + 1 (a free one when osc.port is 0); 0 = a free one

    def validate(self) -> None:
        if self.port is not None and not 0 <= self.port <= 65535:
            raise ValueError(f"port: {self.port} is not a port number (0..65535)")

    def bind(self, osc: OscSettings, osc_udp_port: int) -> tuple[str, int]:
        """``(host, port)`` to listen on, given the OSC settings and the UDP port OSC got."""
        host = self.host or osc.host
        if self.port is not None:
            return host, self.port
        return host, (osc_udp_port + 1 if 0 < osc.port < 65535 else 0)


@dataclass
class ServeConfig:
    model: str | None = None          # a model folder; None = the shipped model
    library: str | None = None        # None = <model>/library.safetensors
    osc: OscSettings = field(default_factory=OscSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    envelope: EnvelopeSettings = field(default_factory=EnvelopeSettings)
    morph: MorphSettings = field(default_factory=MorphSettings)
    midi: MidiSettings = field(default_factory=MidiSettings)
    paths: PathSettings = field(default_factory=PathSettings)
    renderer: RendererSettings = field(default_factory=RendererSettings)
    web: WebSettings = field(default_factory=WebSettings)


def load_serve_config(path: str | Path | None = None) -> ServeConfig:
    """The packaged defaults, or ``path`` (keys missing there keep the dataclass defaults)."""
    from morphsynth.core.config import load_config

    return load_config(path if path is not None else DEFAULTS_YAML, ServeConfig)
