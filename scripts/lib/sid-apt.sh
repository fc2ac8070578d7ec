# Sourced by get-godot.sh and get-gns.sh: a private apt configuration for Debian sid whose dpkg
# status is EMPTY (so the whole dependency closure is downloaded, nothing is installed) and
# whose lists, cache and archives live under $1. Exports APT_CONFIG.
#   sid_apt_setup DIR
sid_apt_setup() {
  local apt=$1
  mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/etc/preferences.d" "$apt/etc/apt.conf.d" "$apt/cache"
  : > "$apt/status"   # empty: pretend nothing is installed, so the full closure is downloaded
  echo "deb http://deb.debian.org/debian sid main" > "$apt/sources.list"
  cat > "$apt/apt.conf" <<CONF
Dir::Etc::SourceList "$apt/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::Etc::Preferences "$apt/etc/preferences";
Dir::Etc::PreferencesParts "$apt/etc/preferences.d";
Dir::Etc::Parts "$apt/etc/apt.conf.d";
Dir::State::Lists "$apt/lists";
Dir::State::status "$apt/status";
Dir::Cache "$apt/cache";
Dir::Cache::archives "$apt/archives";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
// The mirror snapshot may carry an old Release file; the signature is still checked.
Acquire::Check-Valid-Until "false";
CONF
  export APT_CONFIG=$apt/apt.conf
}
