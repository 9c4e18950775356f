"""Hot-swap of the model and the library: what ``/model/load`` and ``/library/load`` read.

A remote client names files relative to the models folder (``paths.models_dir``; by
default the folder that holds the served model, so with the shipped model ``models/``)
and never leaves it (:func:`~morphsynth.server.control.confined_path`). :func:`model_paths`
and :func:`library_path` check a request at once; :func:`read_model` and
:func:`read_library` load it on the job thread and refuse, with one line, a model whose
notes the running server cannot play (another STFT or note length: the engine's note
slots and the loop search are sized for the served notes) and a library another model
built. :class:`~morphsynth.server.control.Controls` then swaps the pair into the renderer
(:meth:`~morphsynth.server.renderer.Renderer.swap`); nothing changes when any step fails.
"""

from __future__ import annotations

from pathlib import Path

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.control import confined_path


def models_dir_for(configured: str | None, model: str | None) -> Path:
    """The models folder: ``configured``, else the folder holding the served model folder
    (``model``, or the default model when None)."""
    from morphsynth.core.synth_model import default_model_dir

    if configured:
        return Path(configured)
    return (Path(model) if model else default_model_dir()).resolve().parent


def _base(models_dir, where: str) -> Path:
    if models_dir is None:
        raise MorphsynthError(f"{where}: this server has no models folder (paths.models_dir)")
    return Path(models_dir)


def library_path(models_dir, relative: str, where: str = "library/load") -> Path:
    """The library file ``relative`` names inside the models folder; MorphsynthError if it
    leaves the folder or is not a file."""
    base = _base(models_dir, where)
    path = confined_path(base, relative, where)
    if not path.is_file():
        raise MorphsynthError(f"{where}: '{relative}' is not a file in {base}")
    return path


def model_paths(models_dir, relative: str, library: str | None = None,
                where: str = "model/load") -> tuple[Path, Path]:
    """(model folder, library file) of a ``/model/load``: the folder ``relative`` names
    inside the models folder, and ``library`` there (default: the folder's
    ``library.safetensors``)."""
    from morphsynth.server.library import LIBRARY_FILE

    base = _base(models_dir, where)
    folder = confined_path(base, relative, where)
    if not folder.is_dir():
        raise MorphsynthError(f"{where}: '{relative}' is not a model folder in {base}")
    if library is not None:
        return folder, library_path(base, library, where)
    lib = folder / LIBRARY_FILE
    if not lib.is_file():
        raise MorphsynthError(f"{where}: '{relative}' has no {LIBRARY_FILE}; name a library as the second "
                              f"argument, or build one (morphsynth library build --model {folder})")
    # The default library must not lead out of the folder either (a symlink).
    return folder, confined_path(base, str(lib), where)


def check_playable_here(served, model, where: str) -> None:
    """Refuse ``model`` unless its notes are shaped like the ``served`` model's."""
    if model.stft != served.stft or model.n_frames != served.n_frames:
        raise MorphsynthError(
            f"{where}: model '{model.name}' makes {model.n_frames}-frame notes at {model.stft}, the server plays "
            f"{served.n_frames}-frame notes at {served.stft}; serve it with morphsynth serve --model instead")


def read_library(models_dir, relative: str, model, where: str = "library/load"):
    """Load the :class:`~morphsynth.server.library.Library` ``relative`` names for ``model``;
    refuses one another model built."""
    from morphsynth.server.library import Library

    path = library_path(models_dir, relative, where)
    try:
        return Library.load(path, model)
    except MorphsynthError as exc:
        raise MorphsynthError(f"{where}: {exc}") from None


def read_model(models_dir, relative: str, library: str | None, served,
               where: str = "model/load") -> tuple:
    """(SynthModel, Library): the model folder ``relative`` names, loaded on ``served``'s
    device, and its library."""
    from morphsynth.core.synth_model import load_synth_model
    from morphsynth.server.library import Library

    folder, lib_path = model_paths(models_dir, relative, library, where)
    try:
        model = load_synth_model(folder, device=served.device)
        lib = Library.load(lib_path, model)
    except MorphsynthError as exc:
        raise MorphsynthError(f"{where}: {exc}") from None
    except (OSError, RuntimeError, ValueError) as exc:
        raise MorphsynthError(f"{where}: cannot load '{relative}' ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:200]})") from None
    check_playable_here(served, model, where)
    return model, lib
