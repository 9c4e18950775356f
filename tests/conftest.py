import os

import pytest
import torch

# Tests share two cores with whatever else runs: one torch thread is fastest and steadiest.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def jack_server():
    """A private JACK dummy server (48 kHz, 256 frames) for the whole session."""
    from audio_graph import JackServer

    if not JackServer.available():
        pytest.skip("jackd is not installed (bash scripts/setup.sh installs jackd2)")
    server = JackServer().start()
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    yield server
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    server.stop()
