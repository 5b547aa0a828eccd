#!/bin/sh
# The static IPv4 settings a seed's network config asks for (copied into the test guest's
# initramfs as /etc/netcfg.sh): NoCloud network-config v1 (`address` + `netmask`, `gateway`) or v2
# (`addresses: [a/n]`, `gateway4`), ConfigDrive network_data.json (`ip_address`, `netmask`, a
# route's `gateway`). Prints "ADDRESS/PREFIX [GATEWAY]" for the first address found, nothing when
# the config has none (the guest then uses DHCP).
#
# With --by-mac, prints "MAC ADDRESS/PREFIX [GATEWAY]" for each v2 `ethernets` entry that
# `match`es a `macaddress` (what users write for a VM's second NIC); those entries' addresses
# are never the first NIC's.
f=$1 mode=${2:-}
[ -s "$f" ] || exit 0

# Splits a v2 config: "bymac" prints the MAC-matched entries' settings, "rest" the text without them.
v2_split() {
  awk -v want="$1" '
  function lead(s) { match(s, /^ */); return RLENGTH }
  function flush(  i) {
    if (n && mac != "" && addr != "") { if (want == "bymac") print mac " " addr (gw != "" ? " " gw : "") }
    else if (want == "rest") for (i = 1; i <= n; i++) print buf[i]
    n = 0; mac = ""; addr = ""; gw = ""; child = -1; inlist = 0
  }
  function value(s) { sub(/^[^:]*:[[:space:]]*/, "", s); gsub(/["\047[:space:][]/, "", s); sub(/[],}].*/, "", s); return s }
  {
    ind = lead($0)
    if ($0 ~ /^[[:space:]]*(#.*)?$/) { if (n) buf[++n] = $0; else if (want == "rest") print; next }
    if (ineth && ind <= ethind) { flush(); ineth = 0 }
    if (!ineth) {
      if (want == "rest") print
      if ($0 ~ /^ *ethernets:[[:space:]]*$/) { ineth = 1; ethind = ind; entind = -1 }
      next
    }
    if (entind < 0 || ind <= entind) { flush(); entind = ind; buf[++n] = $0; next }
    buf[++n] = $0
    if (child < 0) child = ind
    if (ind == child && $0 !~ /^ *-/) inlist = 0
    if ($0 ~ /macaddress:/) { v = $0; sub(/.*macaddress:/, "", v); gsub(/["\047[:space:]]/, "", v); sub(/[,}].*/, "", v); mac = tolower(v) }
    else if (ind == child && $0 ~ /^ *gateway4:/) gw = value($0)
    else if (ind == child && $0 ~ /^ *addresses:[[:space:]]*\[/) { v = value($0); if (addr == "") addr = v }
    else if (ind == child && $0 ~ /^ *addresses:[[:space:]]*$/) inlist = 1
    else if (inlist && $0 ~ /^ *- *[0-9]/) { v = $0; sub(/^ *- */, "", v); gsub(/["\047[:space:]]/, "", v); if (addr == "") addr = v }
  }
  END { flush() }' "$f"
}
if [ "$mode" = --by-mac ]; then
  case "$(head -c 1 "$f")" in '{') exit 0 ;; esac
  v2_split bymac
  exit 0
fi
# JSON: one value per line, so the first netmask is the network's own (not a route's).
case "$(head -c 1 "$f")" in
'{') text=$(tr ',{}[]' '\n\n\n\n\n' <"$f") ;;
*) text=$(v2_split rest) ;;
esac
first() { printf '%s\n' "$text" | sed -n "$@" | head -n 1; }
addr=$(first -e 's/.*"ip_address"[[:space:]]*:[[:space:]]*"\([0-9.]*\)".*/\1/p' \
  -e 's/^[[:space:]-]*address[[:space:]]*:[[:space:]]*\([0-9.]*\(\/[0-9]*\)\{0,1\}\)[[:space:]]*$/\1/p' \
  -e 's/^[[:space:]-]*addresses[[:space:]]*:[[:space:]]*\[[[:space:]]*\([0-9.]*\/[0-9]*\).*/\1/p' \
  -e 's/^[[:space:]]*-[[:space:]]*\([0-9][0-9.]*\/[0-9][0-9]*\)[[:space:]]*$/\1/p')
[ -n "$addr" ] || exit 0
mask=$(first -e 's/.*"netmask"[[:space:]]*:[[:space:]]*"\([0-9.]*\)".*/\1/p' -e 's/^[[:space:]]*netmask[[:space:]]*:[[:space:]]*\([0-9.]*\)[[:space:]]*$/\1/p')
if [ "${addr#*/}" = "$addr" ]; then
  prefix=32
  if [ -n "$mask" ]; then
    prefix=0
    for octet in $(echo "$mask" | tr . ' '); do
      case $octet in
      255) prefix=$((prefix + 8)) ;; 254) prefix=$((prefix + 7)) ;; 252) prefix=$((prefix + 6)) ;;
      248) prefix=$((prefix + 5)) ;; 240) prefix=$((prefix + 4)) ;; 224) prefix=$((prefix + 3)) ;;
      192) prefix=$((prefix + 2)) ;; 128) prefix=$((prefix + 1)) ;;
      esac
    done
  fi
  addr=$addr/$prefix
fi
gw=$(first -e 's/.*"gateway"[[:space:]]*:[[:space:]]*"\([0-9.]*\)".*/\1/p' -e 's/^[[:space:]]*\(gateway4\|gateway\)[[:space:]]*:[[:space:]]*\([0-9.]*\).*/\2/p')
echo "$addr${gw:+ $gw}"
