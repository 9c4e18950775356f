"""The ``morphsynth`` command line.

Each subcommand lives in its own module ``morphsynth.cmd_<name>`` exposing
``add_parser(subparsers)`` and ``run(args) -> int``. Modules import heavy
packages (torch) inside ``run`` so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from morphsynth import __version__
from morphsynth.core.errors import MorphsynthError

COMMANDS = ["serve", "render", "export", "dataset", "train", "eval", "library"]

EPILOG = """\
examples:
  morphsynth serve                               # play the shipped model on the default audio device
  morphsynth serve --audio null --record out.wav # headless: no device, record what is played
  morphsynth render --source flute_acoustic_fluidr3gm073 --source string_acoustic_fluidr3gm042:0.5 --pitch 60 --velocity 100 --out note.wav
  morphsynth export --source flute --keys 21-108/3 --velocities 40,80,120 --out flute_sfz
  morphsynth dataset soundfont --sf2 /usr/share/sounds/sf2/FluidR3_GM.sf2 --out data/fluid
  morphsynth train --config configs/default.yaml --data data/fluid --out runs/default
  morphsynth eval --model runs/default --data data/fluid/nsynth-test --out reports/default
  morphsynth library build --model models/default --data data/fluid --out lib.safetensors

'morphsynth COMMAND --help' shows each command's options and examples.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="morphsynth",
        description="Neural synthesizer server: morph instrument timbres and play them over OSC and MIDI.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"morphsynth {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"morphsynth.cmd_{name}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except MorphsynthError as exc:
        print(f"morphsynth: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into a reader that stopped early (e.g. `| head`): not an error.
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def subcommand(sub, name: str, help: str, description: str, examples: str) -> argparse.ArgumentParser:
    """A subparser with a usage-examples epilog, shared by every ``cmd_*`` module."""
    return sub.add_parser(
        name,
        help=help,
        description=description,
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
