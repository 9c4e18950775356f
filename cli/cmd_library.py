"""`morphsynth library`: not yet available."""

from morphsynth.errors import MorphsynthError
from morphsynth.main import subcommand


def add_parser(sub) -> None:
    p = subcommand(sub, "library", help="(library: not yet available)", description="Not yet available.", examples="  morphsynth library --help\n")
    p.set_defaults(run=run)


def run(args) -> int:
    raise MorphsynthError("'library' is not available in this build")
