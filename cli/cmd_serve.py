"""`morphsynth serve`: play the model over OSC and MIDI in real time."""

from __future__ import annotations

from morphsynth.core.errors import MorphsynthError
from morphsynth.main import subcommand

EXAMPLES = """\
  morphsynth serve                                   # shipped model, default device, OSC on 57130
  morphsynth serve --audio null --record take.wav    # headless: timer clock, keep what is played
  morphsynth serve --port 9000 --tcp-port 9001 --midi none
  morphsynth serve --web-port 8130                   # the browser control page on http://127.0.0.1:8130/
  morphsynth serve --midi "Launchkey" --audio "USB Audio"
  morphsynth serve --config my-serve.yaml --model runs/default --library runs/default/lib.safetensors
  oscsend localhost 57130 /note/on ii 60 100         # then, from another shell
"""


def add_parser(sub) -> None:
    p = subcommand(
        sub, "serve", help="run the synthesizer server (OSC over UDP/TCP, MIDI, audio)",
        description="Run the synthesizer: OSC on UDP and TCP port 57130 (see docs/osc.md), a virtual "
                    "MIDI input 'morphsynth', audio on the default device. It plays at once: the first "
                    "four library instruments sit at the XY corners, morphed from the centre.",
        examples=EXAMPLES)
    p.add_argument("--config", metavar="FILE", help="serve settings (YAML; defaults: server/defaults.yaml)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1; any other needs --allow-remote)")
    p.add_argument("--allow-remote", metavar="ADDR[,ADDR...]",
                   help="accept OSC from these client IP addresses; required with a non-loopback --host")
    p.add_argument("--port", type=int, help="OSC UDP port (default 57130)")
    p.add_argument("--tcp-port", type=int, help="OSC TCP port (default 57130; 0 = no TCP)")
    p.add_argument("--web-port", type=int, metavar="PORT",
                   help="port of the browser control page (default: the OSC UDP port + 1, 57131; 0 = any free)")
    p.add_argument("--no-web", action="store_true", help="serve no browser control page")
    p.add_argument("--audio", metavar="DEVICE|jack|null",
                   help="output device name; jack: a JACK client of its own that survives a JACK restart; "
                        "null: no device")
    p.add_argument("--record", metavar="FILE.wav", help="write everything played to this WAV")
    p.add_argument("--midi", metavar="PORT|virtual|none", help="MIDI input (default: virtual port 'morphsynth')")
    p.add_argument("--model", metavar="M", help="model folder (default: the shipped model or $MORPHSYNTH_MODEL)")
    p.add_argument("--library", metavar="L", help="latent library (default: <model>/library.safetensors)")
    p.add_argument("--models-dir", metavar="DIR",
                   help="folder /model/load and /library/load may read (default: the folder holding the model)")
    p.add_argument("--block-size", type=int, metavar="FRAMES",
                   help="audio block size in frames, 16..4096 (default 256; JACK uses its own period)")
    p.set_defaults(run=run)


def apply_args(cfg, args):
    """Command-line options over the config's values."""
    for attr, section, key in (("host", cfg.osc, "host"), ("port", cfg.osc, "port"),
                               ("tcp_port", cfg.osc, "tcp_port"), ("audio", cfg.audio, "device"),
                               ("record", cfg.audio, "record"), ("midi", cfg.midi, "port"),
                               ("model", cfg, "model"), ("library", cfg, "library"),
                               ("models_dir", cfg.paths, "models_dir"), ("block_size", cfg.audio, "block_size")):
        value = getattr(args, attr, None)
        if value is not None:
            setattr(section, key, value)
    if getattr(args, "allow_remote", None):
        cfg.osc.allow = [a.strip() for a in args.allow_remote.split(",") if a.strip()]
    if getattr(args, "web_port", None) is not None:
        cfg.web.port = args.web_port
    if getattr(args, "no_web", False):
        cfg.web.enabled = False
    try:
        cfg.osc.validate()
        cfg.audio.validate()
    except ValueError as exc:
        raise MorphsynthError(f"serve: {exc}") from None
    check_web(cfg)
    return cfg


def check_web(cfg) -> None:
    """MorphsynthError naming the key unless the web settings fit the OSC ones."""
    from morphsynth.server.server_config import is_loopback

    try:
        cfg.web.validate()
    except ValueError as exc:
        raise MorphsynthError(f"serve: web.{exc}") from None
    host = cfg.web.host or cfg.osc.host
    if cfg.web.enabled and not is_loopback(host) and not cfg.osc.allow:
        raise MorphsynthError(f"serve: web.host: {host} is not a loopback address; serving the page to the "
                              "network needs --allow-remote ADDR[,ADDR...] (osc.allow) naming the clients")


def run(args) -> int:
    from morphsynth.server.app import SynthServer, build_renderer, print_line
    from morphsynth.server.server_config import load_serve_config

    cfg = apply_args(load_serve_config(args.config), args)
    if cfg.audio.device not in ("null", "jack"):
        # Fail fast, before loading the model.
        if cfg.audio.own_process:
            from morphsynth.server.audio_process import check_output_device

            check_output_device(cfg.audio.device)
        else:
            from morphsynth.server.audio_io import find_output_device

            find_output_device(cfg.audio.device)
    renderer = build_renderer(cfg)
    # The default virtual MIDI port is a convenience: without one, serve OSC anyway.
    server = SynthServer(cfg, renderer, midi_required=args.midi is not None and cfg.midi.port != "virtual")
    server.start()
    server.serve_forever(ready=lambda: print_line(server.describe()))
    if server.recorder is not None:
        print_line(f"morphsynth: wrote {server.recorder.path} ({server.recorder.frames_written} frames)")
    if getattr(server.output, "abandoned", False):
        import os
        import sys

        # PortAudio would block at exit on the audio server that went away: leave now.
        print_line(f"morphsynth: audio device '{server.output.device_name}' was lost; exiting without closing it")
        sys.stdout.flush()
        os._exit(0)
    return 0
