"""`morphsynth render`: not yet available."""

from morphsynth.errors import MorphsynthError
from morphsynth.main import subcommand


def add_parser(sub) -> None:
    p = subcommand(sub, "render", help="(render: not yet available)", description="Not yet available.", examples="  morphsynth render --help\n")
    p.set_defaults(run=run)


def run(args) -> int:
    raise MorphsynthError("'render' is not available in this build")
