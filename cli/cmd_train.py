"""`morphsynth train`: not yet available."""

from morphsynth.errors import MorphsynthError
from morphsynth.main import subcommand


def add_parser(sub) -> None:
    p = subcommand(sub, "train", help="(train: not yet available)", description="Not yet available.", examples="  morphsynth train --help\n")
    p.set_defaults(run=run)


def run(args) -> int:
    raise MorphsynthError("'train' is not available in this build")
