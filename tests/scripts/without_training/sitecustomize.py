"""Makes ``morphsynth.training`` unimportable in every Python process started with this
folder on PYTHONPATH (the server and its audio process alike): the server must play
without the training package.

Each attempt is appended to the file named by ``$MORPHSYNTH_BLOCKED_LOG``, so a test can
tell an import that was tried and caught from one that never happened.
"""

import importlib.abc
import os
import sys

BLOCKED = "morphsynth.training"


class BlockTraining(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == BLOCKED or name.startswith(BLOCKED + "."):
            log = os.environ.get("MORPHSYNTH_BLOCKED_LOG")
            if log:
                with open(log, "a", encoding="utf-8") as f:
                    f.write(f"{name}\n")
            raise ImportError(f"{name} is blocked: the server must run without it")
        return None


sys.meta_path.insert(0, BlockTraining())
