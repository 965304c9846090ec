# Source this file (bash) to use musmove after tools/bootstrap.sh:
#   source tools/env.sh
# It activates .venv, makes the ROS 2 wheels in it visible to ament (pip-only
# mode) and sources the colcon workspace in install/.
_musmove_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ ! -f $_musmove_root/install/setup.bash ]]; then
  echo "musmove: not set up yet; run: bash $_musmove_root/tools/bootstrap.sh" >&2
  return 1 2>/dev/null || exit 1
fi
# shellcheck source=/dev/null
source "$_musmove_root/.venv/bin/activate"
if [[ -z ${ROS_DISTRO:-} ]]; then
  export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
fi
# shellcheck source=/dev/null
source "$_musmove_root/install/setup.bash"
unset _musmove_root
