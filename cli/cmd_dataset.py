"""`morphsynth dataset`: not yet available."""

from morphsynth.errors import MorphsynthError
from morphsynth.main import subcommand


def add_parser(sub) -> None:
    p = subcommand(sub, "dataset", help="(dataset: not yet available)", description="Not yet available.", examples="  morphsynth dataset --help\n")
    p.set_defaults(run=run)


def run(args) -> int:
    raise MorphsynthError("'dataset' is not available in this build")
