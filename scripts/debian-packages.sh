# Sourced by the install scripts: `fetch_debian_packages WORK PACKAGE…` downloads Debian 13
# (trixie) packages and unpacks them under WORK/root, without touching the system's apt
# configuration or libraries. The mirror is read from this machine's own apt sources; only the
# suite changes.
fetch_debian_packages() {
  local work=$1; shift
  local mirror
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [[ -n $mirror ]] || mirror=$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n $mirror ]] || { echo "no Debian mirror found in /etc/apt/sources.list{,.d/debian.sources}" >&2; return 1; }
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts" "$work/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$work/sources.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/parts"
                  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Get::List-Cleanup=0"
                  -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
  apt-get "${apt_opts[@]}" -qq update >&2
  (cd "$work/debs" && apt-get "${apt_opts[@]}" -qq download "$@" >&2)
  local deb
  for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done
}
