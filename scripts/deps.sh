# Sourced by the scripts: installs the Debian packages that are missing (idempotent, quiet).
# usage: ensure_packages pkg...
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What building and testing alignkit needs.
ALIGNKIT_BUILD_PACKAGES=(g++ cmake ninja-build libxsimd-dev libeigen3-dev xtensor-dev doctest-dev nlohmann-json3-dev libblas-dev)
