# Source this file (bash) to use musmove after tools/bootstrap.sh:
#   source tools/env.sh
# It activates .venv, makes the ROS 2 wheels in it visible to ament (pip-only
# mode) and sources the colcon workspace in install/.
_musmove_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ ! -f $_musmove_root/install/setup.bash ]]; then
  echo "musmove: not set up yet; run: bash $_musmove_root/tools/bootstrap.sh" >&2
  return 1 2>/dev/null || exit 1
fi
# A workspace built against a system ROS 2 needs it sourced first.
_musmove_mode=$(cat "$_musmove_root/.venv/musmove-mode" 2>/dev/null)
if [[ -z ${ROS_DISTRO:-} && $_musmove_mode == system-* ]]; then
  _musmove_distro=${_musmove_mode#system-}
  # shellcheck source=/dev/null
  source "/opt/ros/${_musmove_distro%% *}/setup.bash"
fi
# shellcheck source=/dev/null
source "$_musmove_root/.venv/bin/activate"
if [[ -z ${ROS_DISTRO:-} ]]; then
  export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
fi
# shellcheck source=/dev/null
source "$_musmove_root/install/setup.bash"
unset _musmove_root _musmove_mode _musmove_distro
