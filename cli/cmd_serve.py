"""`morphsynth serve`: not yet available."""

from morphsynth.errors import MorphsynthError
from morphsynth.main import subcommand


def add_parser(sub) -> None:
    p = subcommand(sub, "serve", help="(serve: not yet available)", description="Not yet available.", examples="  morphsynth serve --help\n")
    p.set_defaults(run=run)


def run(args) -> int:
    raise MorphsynthError("'serve' is not available in this build")
