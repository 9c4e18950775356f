"""Reading NSynth-layout datasets: listing, filters, the torch Dataset and its feature cache."""

import json
import os
import shutil

import numpy as np
import pytest
import torch

from morphsynth.core import files
from morphsynth.core.errors import MorphsynthError
from morphsynth.training import nsynth
from morphsynth.training.nsynth import NoteFilter, NSynthDataset, list_examples, load_examples
from morphsynth.core.spectral import StftSettings, magnitude


@pytest.fixture
def dataset_copy(tiny_dataset, tmp_path):
    """A private copy of the tiny dataset that a test may change, without the feature cache
    that other tests may have left in the shared one."""
    root = tmp_path / "data"
    shutil.copytree(tiny_dataset, root, ignore=shutil.ignore_patterns(".features"))
    return root


def test_list_examples_reads_every_split_sorted_with_metadata(tiny_dataset):
    exs = list_examples(tiny_dataset)
    assert len(exs) == 40
    assert [e.split for e in exs] == sorted((e.split for e in exs), key=nsynth.SPLITS.index)
    ex = exs[0]
    assert ex.audio_path.is_file() and ex.family_str in nsynth.FAMILIES and ex.source_str in nsynth.SOURCES
    assert len(list_examples(tiny_dataset, "valid")) == 4
    assert len(list_examples(tiny_dataset / "nsynth-test")) == 4
    assert len(list_examples(tiny_dataset, ["valid", "test"])) == 8


def test_filters_select_by_source_family_pitch_velocity_and_instrument(tiny_dataset):
    exs = list_examples(tiny_dataset)
    by = lambda f: list_examples(tiny_dataset, note_filter=f)  # noqa: E731
    assert {e.family_str for e in by(NoteFilter(families=["flute", "reed"]))} <= {"flute", "reed"}
    assert len(by(NoteFilter(families=["flute", "reed"]))) == 8
    assert len(by(NoteFilter(families=[nsynth.FAMILIES.index("bass")]))) == 4
    synthetic = by(NoteFilter(sources=["synthetic"]))
    assert synthetic and all(e.source_str == "synthetic" for e in synthetic)
    assert len(by(NoteFilter(sources=["acoustic", "electronic"]))) == len(exs) - len(synthetic)
    mid = by(NoteFilter(pitch_min=56, pitch_max=64))
    assert {e.pitch for e in mid} == {56, 64} and len(mid) == 20
    assert by(NoteFilter(velocities=[25])) == [] and len(by(NoteFilter(velocities=[100]))) == 40
    name = exs[0].instrument_str
    assert {e.instrument_str for e in by(NoteFilter(instruments=[name]))} == {name}
    with pytest.raises(MorphsynthError, match="family 'kazoo'"):
        by(NoteFilter(families=["kazoo"]))
    with pytest.raises(MorphsynthError, match="pitch range 70-60"):
        NoteFilter(pitch_min=70, pitch_max=60)


def test_load_examples_gives_metadata_and_audio_matrix(tiny_dataset):
    exs, audio = load_examples(tiny_dataset, "train", NoteFilter(pitch_min=60, pitch_max=60))
    assert audio.shape == (0, 64000) and exs == []
    exs, audio = load_examples(tiny_dataset, "train", NoteFilter(pitch_min=64, pitch_max=64))
    assert audio.shape == (8, 64000) and audio.dtype == np.float32
    assert np.abs(audio).max(axis=1).min() > 0.001
    assert np.array_equal(audio[3], exs[3].load_audio())


def test_dataset_items_carry_magnitude_and_labels(dataset_copy):
    ds = NSynthDataset(dataset_copy, "train")
    assert len(ds) == 32
    item = ds[5]
    for key in ("mag", "pitch", "velocity", "instrument", "instrument_str", "family", "note_str"):
        assert key in item
    assert item["mag"].shape == (513, 251) and item["mag"].dtype == torch.float32
    ex = ds.examples[5]
    assert (item["pitch"], item["velocity"], item["note_str"]) == (ex.pitch, ex.velocity, ex.note_str)
    assert isinstance(item["pitch"], float)  # the sounding pitch: the key, plus the bend when there is one
    expected = magnitude(torch.from_numpy(ex.load_audio()))
    assert torch.allclose(item["mag"], expected)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["mag"].shape == (4, 513, 251) and batch["pitch"].dtype == torch.float64
    assert len(batch["instrument_str"]) == 4


def test_second_epoch_reads_features_from_the_cache(dataset_copy):
    ds = NSynthDataset(dataset_copy, "train")
    first = [ds[i]["mag"] for i in range(len(ds))]
    assert (ds.cache_hits, ds.cache_misses) == (0, 32)
    cached = sorted((dataset_copy / "nsynth-train" / ".features").rglob("*.safetensors"))
    assert len(cached) == 32 and cached[0].parent.name == "mag-sr16000-fft1024-hop256-n64000"
    again = NSynthDataset(dataset_copy, "train")
    second = [again[i]["mag"] for i in range(len(again))]
    assert (again.cache_hits, again.cache_misses) == (32, 0)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_changed_audio_file_invalidates_only_its_cached_features(dataset_copy):
    ds = NSynthDataset(dataset_copy, "train")
    for i in range(len(ds)):
        ds[i]
    ex = ds.examples[2]
    quieter = ex.load_audio() * 0.5
    nsynth.write_wav(ex.audio_path, quieter)
    ds2 = NSynthDataset(dataset_copy, "train")
    items = [ds2[i] for i in range(len(ds2))]
    assert (ds2.cache_hits, ds2.cache_misses) == (31, 1)
    assert torch.allclose(items[2]["mag"], magnitude(torch.from_numpy(ex.load_audio())))
    # A touched but unchanged file keeps its cache entry (the content digest matches).
    other = ds.examples[4].audio_path
    os.utime(other, ns=(other.stat().st_atime_ns, other.stat().st_mtime_ns + 5_000_000_000))
    ds3 = NSynthDataset(dataset_copy, "train")
    for i in range(len(ds3)):
        ds3[i]
    assert (ds3.cache_hits, ds3.cache_misses) == (32, 0)


def test_cache_is_keyed_by_stft_settings(dataset_copy, tmp_path):
    ds = NSynthDataset(dataset_copy, "valid", cache_dir=tmp_path / "cache")
    ds[0]
    other = NSynthDataset(dataset_copy, "valid", stft=StftSettings(n_fft=512, hop=128), cache_dir=tmp_path / "cache")
    item = other[0]
    assert other.cache_misses == 1 and item["mag"].shape == (257, 501)
    folders = sorted(p.name for p in (tmp_path / "cache" / "valid").iterdir())
    assert folders == ["mag-sr16000-fft1024-hop256-n64000", "mag-sr16000-fft512-hop128-n64000"]


def test_reads_the_published_nsynth_json_and_wav_layout(tmp_path):
    # An entry as it appears in NSynth's own nsynth-test/examples.json.
    entry = {"qualities": [0, 1, 0, 0, 0, 0, 0, 0, 0, 0], "pitch": 22, "note": 201034,
             "instrument_source_str": "synthetic", "velocity": 50, "instrument_str": "bass_synthetic_033",
             "instrument": 417, "sample_rate": 16000, "qualities_str": ["dark"], "instrument_source": 2,
             "note_str": "bass_synthetic_033-022-050", "instrument_family": 0, "instrument_family_str": "bass"}
    folder = tmp_path / "nsynth-test"
    (folder / "audio").mkdir(parents=True)
    (folder / "examples.json").write_text(json.dumps({entry["note_str"]: entry}))
    t = np.arange(64000) / 16000
    nsynth.write_wav(folder / "audio" / "bass_synthetic_033-022-050.wav", 0.3 * np.sin(2 * np.pi * 29.135 * t))
    (ex,) = list_examples(tmp_path, "test")
    assert (ex.instrument, ex.pitch, ex.velocity, ex.family_str, ex.qualities[1]) == (417, 22, 50, "bass", 1)
    item = NSynthDataset(tmp_path, "test", note_filter=NoteFilter(families=["bass"]))[0]
    assert item["mag"].shape == (513, 251) and item["instrument_str"] == "bass_synthetic_033"


def test_examples_json_missing_a_key_is_an_error_naming_file_and_key(dataset_copy):
    path = dataset_copy / "nsynth-valid" / "examples.json"
    data = json.loads(path.read_text())
    key = sorted(data)[1]
    del data[key]["velocity"]
    path.write_text(json.dumps(data))
    with pytest.raises(MorphsynthError) as info:
        list_examples(dataset_copy, "valid")
    message = str(info.value)
    assert str(path) in message and key in message and "'velocity'" in message and "\n" not in message


def test_unreadable_audio_is_an_error_naming_the_file(dataset_copy):
    ex = list_examples(dataset_copy, "test")[0]
    ex.audio_path.write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(MorphsynthError, match=ex.note_str):
        NSynthDataset(dataset_copy, "test")[0]


def test_missing_split_or_folder_is_an_error(tmp_path, tiny_dataset):
    with pytest.raises(MorphsynthError, match="dataset folder not found"):
        list_examples(tmp_path / "nope")
    with pytest.raises(MorphsynthError, match="nsynth-train"):
        list_examples(tmp_path)
    with pytest.raises(MorphsynthError, match="split 'training'"):
        list_examples(tiny_dataset, "training")


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "examples.json"
    files.atomic_write_bytes(path, b"old")
    with pytest.raises(TypeError):
        files.atomic_write_bytes(path, object())
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["examples.json"]


def test_float16_cache_halves_the_files_and_serves_the_same_float32_items(dataset_copy):
    ds = NSynthDataset(dataset_copy, "valid", cache_dtype="float16")
    first = [ds[i]["mag"] for i in range(len(ds))]
    again = NSynthDataset(dataset_copy, "valid", cache_dtype="float16")
    second = [again[i]["mag"] for i in range(len(again))]
    assert again.cache_hits == 4 and all(torch.equal(a, b) for a, b in zip(first, second))
    assert second[0].dtype == torch.float32
    exact = magnitude(torch.from_numpy(again.examples[0].load_audio()))
    assert torch.allclose(second[0], exact, rtol=1e-3, atol=1e-7)
    files = sorted((dataset_copy / "nsynth-valid" / ".features" / "mag-sr16000-fft1024-hop256-n64000-f16").iterdir())
    assert len(files) == 4 and files[0].stat().st_size < 0.6 * 513 * 251 * 4


def test_missing_audio_file_is_an_error_naming_it(dataset_copy):
    ds = NSynthDataset(dataset_copy, "valid")
    ds.examples[1].audio_path.unlink()
    with pytest.raises(MorphsynthError, match=ds.examples[1].note_str + ".wav: cannot read audio"):
        ds[1]
