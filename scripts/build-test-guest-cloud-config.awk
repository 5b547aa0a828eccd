# The #cloud-config subset of Cairn's test guest (busybox awk, copied into its initramfs as
# /etc/cloud-config.awk): reads the user data and prints a shell script that applies it, in
# cloud-init's order — bootcmd, hostname, write_files, the credentials, runcmd. Supported keys:
# hostname, fqdn, bootcmd, runcmd (strings or flow lists like [sh, -c, "x"]), write_files
# (path, content as a scalar or a `|` block, encoding b64/base64, permissions, append),
# password, chpasswd, ssh_authorized_keys (recorded under /var/cloud, there being no sshd).
# Everything else is ignored, as cloud-init ignores modules it does not run.

function sq(s) {
  gsub(/'/, "'\\''", s)
  return "'" s "'"
}
function unquote(s) {
  sub(/^[ \t]+/, "", s)
  sub(/[ \t]+$/, "", s)
  if (s ~ /^".*"$/ || s ~ /^'.*'$/) s = substr(s, 2, length(s) - 2)
  return s
}
function indent_of(s) {
  match(s, /^ */)
  return RLENGTH
}
# A command item: a flow list [a, b, "c d"] runs as an argument vector, a string through sh -c.
function command(item,    out, i, c, q, tok, n) {
  item = unquote(item)
  if (item !~ /^\[.*\]$/) return "sh -c " sq(item)
  item = substr(item, 2, length(item) - 2)
  out = ""; tok = ""; q = ""; n = 0
  for (i = 1; i <= length(item); i++) {
    c = substr(item, i, 1)
    if (q != "") { if (c == q) q = ""; else tok = tok c; continue }
    if (c == "\"" || c == "'") { q = c; n = 1; continue }
    if (c == ",") { out = out " " sq(unquote(tok)); tok = ""; n = 0; continue }
    tok = tok c
  }
  if (tok ~ /[^ \t]/ || n) out = out " " sq(unquote(tok))
  return substr(out, 2)
}
function flush_file() {
  if (fpath == "") return
  wf[++nwf] = fpath SUBSEP fcontent SUBSEP fenc SUBSEP fperm SUBSEP fappend
  fpath = ""; fcontent = ""; fenc = ""; fperm = ""; fappend = ""
}
function field(line, key,    v) {
  v = line
  sub(/^[ \t]*-?[ \t]*[A-Za-z_]+[ \t]*:[ \t]*/, "", v)
  if (key == "content") {
    if (v ~ /^[|>][-+]?[ \t]*$/) { inblock = 1; blockindent = -1; return }
    fcontent = unquote(v)
  } else if (key == "path") fpath = unquote(v)
  else if (key == "encoding") fenc = unquote(v)
  else if (key == "permissions") fperm = unquote(v)
  else if (key == "append") fappend = unquote(v)
}

NR == 1 { next }
{
  line = $0
  sub(/\r$/, "", line)
  if (inblock) {
    if (line ~ /^[ \t]*$/) { fcontent = fcontent "\n"; next }
    ind = indent_of(line)
    if (blockindent < 0) blockindent = ind
    if (ind >= blockindent) { fcontent = fcontent substr(line, blockindent + 1) "\n"; next }
    inblock = 0
  }
  if (line ~ /^[ \t]*(#.*)?$/) next
  if (line ~ /^[A-Za-z_]+[ \t]*:/) {
    if (section == "write_files") flush_file()
    section = line
    sub(/[ \t]*:.*/, "", section)
    value = line
    sub(/^[A-Za-z_]+[ \t]*:[ \t]*/, "", value)
    value = unquote(value)
    if (section == "hostname" || section == "fqdn") host = value
    else if (section == "password") password = value
    else if (section == "chpasswd" && value != "") chpasswd = chpasswd value "\n"
    next
  }
  if (section == "bootcmd" && line ~ /^[ \t]*- /) { sub(/^[ \t]*- /, "", line); boot[++nboot] = command(line); next }
  if (section == "runcmd" && line ~ /^[ \t]*- /) { sub(/^[ \t]*- /, "", line); run[++nrun] = command(line); next }
  if (section == "ssh_authorized_keys" && line ~ /^[ \t]*- /) { sub(/^[ \t]*- /, "", line); keys = keys unquote(line) "\n"; next }
  if (section == "chpasswd") { chpasswd = chpasswd line "\n"; next }
  if (section == "write_files") {
    if (line ~ /^[ \t]*- /) flush_file()
    key = line
    sub(/^[ \t]*-?[ \t]*/, "", key)
    sub(/[ \t]*:.*/, "", key)
    field(line, key)
  }
}
END {
  if (section == "write_files") flush_file()
  print "set -u"
  for (i = 1; i <= nboot; i++) print boot[i]
  if (host != "") {
    print "hostname " sq(host) " && echo " sq(host) " >/etc/hostname"
    print "sed -i " sq("s/^<p>hostname: .*/<p>hostname: " host "<\\/p>/") " /www/index.html"
  }
  for (i = 1; i <= nwf; i++) {
    split(wf[i], f, SUBSEP)
    print "mkdir -p \"$(dirname " sq(f[1]) ")\""
    redirect = (f[5] == "true") ? " >>" : " >"
    if (f[3] == "b64" || f[3] == "base64") print "printf '%s' " sq(f[2]) " | base64 -d" redirect sq(f[1])
    else print "printf '%s' " sq(f[2]) redirect sq(f[1])
    if (f[4] != "") print "chmod " sq(f[4]) " " sq(f[1])
  }
  if (password != "") print "printf '%s\\n' " sq(password) " >/var/cloud/password"
  if (chpasswd != "") print "printf '%s' " sq(chpasswd) " >/var/cloud/chpasswd"
  if (keys != "") print "mkdir -p /root/.ssh && printf '%s' " sq(keys) " >/root/.ssh/authorized_keys"
  for (i = 1; i <= nrun; i++) print run[i]
}
