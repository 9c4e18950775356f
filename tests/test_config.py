from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from morphsynth.core.config import ConfigError, load_config


@dataclass
class Inner:
    latent_dim: int = 16
    rate: float = 1e-3


@dataclass
class Outer:
    name: str = "x"
    phase: Literal["gl", "pghi"] = "pghi"
    inner: Inner = field(default_factory=Inner)
    sizes: list[int] = field(default_factory=list)
    device: Optional[str] = None


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_yaml_fills_nested_dataclasses_and_keeps_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "inner:\n  latent_dim: 64\nsizes: [8, 16]\n"), Outer)
    assert cfg.inner.latent_dim == 64 and cfg.inner.rate == 1e-3
    assert cfg.sizes == [8, 16] and cfg.phase == "pghi" and cfg.device is None


def test_int_given_for_float_is_accepted(tmp_path):
    assert load_config(write(tmp_path, "inner: {rate: 1}\n"), Outer).inner.rate == 1.0


@pytest.mark.parametrize("text, needle", [
    ("inner:\n  latnt_dim: 3\n", "unknown key 'inner.latnt_dim'"),
    ("inner:\n  latent_dim: big\n", "inner.latent_dim: expected int, got str 'big'"),
    ("inner:\n  latent_dim: true\n", "inner.latent_dim: expected int"),
    ("phase: magic\n", "phase: expected one of 'gl', 'pghi'"),
    ("sizes: [1, two]\n", "sizes[1]: expected int"),
    ("inner: 3\n", "inner: expected a mapping"),
    ("a: [\n", "not valid YAML"),
])
def test_bad_values_give_one_line_error_naming_file_and_key(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, Outer)
    message = str(info.value)
    assert needle in message and str(path) in message and "\n" not in message


def test_yaml_tags_that_build_objects_are_refused(tmp_path):
    path = write(tmp_path, "name: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path, Outer)


def test_missing_config_file_is_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.yaml", Outer)


@pytest.mark.parametrize("text, needle", [
    ("morph:\n  follow_xfade_ms: 0\n", "morph.follow_xfade_ms: 0.0 is outside 1..1000"),
    ("morph:\n  follow: maybe\n", "morph.follow: expected bool"),
])
def test_bad_serve_settings_give_one_line_error_naming_the_key(tmp_path, text, needle):
    from morphsynth.server.server_config import ServeConfig

    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), ServeConfig)
    assert needle in str(info.value) and "\n" not in str(info.value)
