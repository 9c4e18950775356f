#!/usr/bin/env bash
# Set up morphsynth on this machine: system packages (apt-get, when root), a
# virtual environment in .venv and the package itself (editable, with the eval
# and test extras). Safe to run again: finished steps are skipped.
#
#   bash scripts/setup.sh            # what the server needs
#   bash scripts/setup.sh --test     # the same, plus SuperCollider for the patch tests and Polyphone (SF2 export)
#   bash scripts/setup.sh --train    # the same, plus every SoundFont the default model trains on
#   MORPHSYNTH_PYTHON=python3.12 bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3 python3-venv python3-pip libportaudio2 libsndfile1 fluidsynth
  fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont-small jackd2
  puredata-core liblo-tools)
for arg in "$@"; do
  case "$arg" in
    # Polyphone converts exported SFZ instruments to SoundFonts (morphsynth export --format sf2).
    # chromium and its driver: tests/test_web.py drives the control page in a headless browser.
    --test) APT_PACKAGES+=(supercollider-language supercollider-server polyphone chromium chromium-driver) ;;
    # FluidR3 mono, MuseScore General (Lite), csound's sf_GMbank and the OPL-3 FM bank: with
    # FluidR3 GM, the training SoundFonts of configs/default.yaml (TimGM6mb stays for tests).
    --train) APT_PACKAGES+=(fluidr3mono-gm-soundfont musescore-general-soundfont-small csound-soundfont
                            opl3-soundfont) ;;
    *) printf 'setup: unknown option %s (expected --test, --train)\n' "$arg" >&2; exit 2 ;;
  esac
done
PYTHON="${MORPHSYNTH_PYTHON:-python3}"

say() { printf 'setup: %s\n' "$*" >&2; }

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi

if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing system packages: ${missing[*]}"
    say "install them with: sudo apt-get install ${missing[*]}"
    say "(continuing; audio, MIDI and SoundFont features need them)"
  fi
elif ! command -v dpkg-query >/dev/null 2>&1; then
  say "no apt/dpkg here: install PortAudio, libsndfile, FluidSynth (with a GM SoundFont),"
  say "JACK, Pure Data and liblo's tools with your system's package manager"
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  say "no '$PYTHON' found: install Python 3.10 or newer (apt-get install python3 python3-venv)"
  exit 1
fi

if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv .venv || { say "creating the venv failed: apt-get install python3-venv"; exit 1; }
fi

# Reinstall only when the project's requirements changed.
stamp=.venv/.morphsynth-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  say "installing morphsynth and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" >&2 || true
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[eval,test]' 2>&1 | grep -v "is ignored" >&2 || true
  # torchcrepe declares torchaudio, whose wheels do not match the CPU torch build;
  # it only uses torchaudio to read files, which morphsynth does with soundfile.
  .venv/bin/python -m pip install -q --no-deps torchcrepe==0.0.24 resampy 2>&1 | grep -v "is ignored" >&2 || true
  .venv/bin/python -c "import morphsynth.core, morphsynth.server, morphsynth.training, torch, fluidsynth, soundfile" \
    || { say "the package did not install cleanly (see pip's messages above)"; exit 1; }
  echo "$want" > "$stamp"
fi
say "ready: .venv/bin/morphsynth"
