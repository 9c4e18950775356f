"""`morphsynth eval`: not yet available."""

from morphsynth.errors import MorphsynthError
from morphsynth.main import subcommand


def add_parser(sub) -> None:
    p = subcommand(sub, "eval", help="(eval: not yet available)", description="Not yet available.", examples="  morphsynth eval --help\n")
    p.set_defaults(run=run)


def run(args) -> int:
    raise MorphsynthError("'eval' is not available in this build")
