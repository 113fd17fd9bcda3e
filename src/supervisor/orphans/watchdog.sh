#!/bin/sh
# The supervisor's watchdog (see watchdog.ts). Usage: watchdog.sh <grace in tenths of a second>.
# Its stdin, a pipe from its supervisor, is all it trusts (never a file another user could have put there): the
# supervisor sends what to end as a block ("targets", then "pgid <group>" and "pid <pid> <start time>" lines,
# then "end") whenever that changes, and "bye" when it leaves on purpose. If the pipe closes without "bye" (kill
# -9, the OOM killer, a crash), the watchdog ends the last whole block and what joined it since: TERM, the grace,
# KILL. Just before each signal, a pid is signalled only while its start time (field 22 of /proc/<pid>/stat) is
# the one sent, and the group only while one of those lives in it: a watchdog that acts late (stopped, then
# continued) never touches a pid or group recycled since. Builtins only in the loops: no fork per process.
trap '' INT HUP TERM QUIT TSTP TTIN TTOU
grace=$1
targets=""
group=""
while read -r kind a b; do
  case $kind in
    bye) exit 0 ;;
    targets) next="" next_group="" ;;
    pid) case "$a:$b" in *[!0-9:]* | :* | *:) ;; *) next="$next $a:$b" ;; esac ;;
    pgid) case $a in '' | *[!0-9]* | 0 | 1) ;; *) next_group=$a ;; esac ;;
    end) targets=$next group=$next_group ;;
  esac
done
[ -n "$targets" ] || exit 0
# Sets state, ppid, pgid and start from /proc/<pid $1>/stat; fails when there is no such process.
stat_of() {
  { read -r s < "/proc/$1/stat"; } 2>/dev/null || return 1
  # Unquoted on purpose: the fields after the command name, split into $1, $2, ...
  # shellcheck disable=SC2086
  set -- ${s##*) }
  state=$1 ppid=$2 pgid=$3 start=${20}
}
# Whether pid $1 is still the process that started at $2.
same() {
  stat_of "$1" && [ "$state" != Z ] && [ "$start" = "$2" ]
}
# Keeps the targets that are still themselves and adds what joined them since: children of one of them (found by
# their parent, so a recycled pid's children are not), and members of the group while one of them lives in it.
verify() {
  kept="" live=" " ours=""
  for t in $targets; do
    same "${t%%:*}" "${t##*:}" || continue
    kept="$kept $t" live="$live${t%%:*} "
    [ "$pgid" = "$group" ] && ours=1
  done
  targets=$kept
  pass=0
  while [ $pass -lt 4 ]; do
    added=0
    for f in /proc/[0-9]*/stat; do
      pid=${f#/proc/} && pid=${pid%/stat}
      case "$live" in *" $pid "*) continue ;; esac
      if ! stat_of "$pid" || [ "$state" = Z ]; then continue; fi
      case "$live" in
        *" $ppid "*) ;;
        *) if [ -z "$ours" ] || [ "$pgid" != "$group" ]; then continue; fi ;;
      esac
      targets="$targets $pid:$start" live="$live$pid " added=1
    done
    [ $added = 0 ] && break
    pass=$((pass + 1))
  done
}
signal_all() {
  verify
  for t in $targets; do
    same "${t%%:*}" "${t##*:}" && [ "$pgid" = "$group" ] && kill -s "$1" -- "-$group" 2>/dev/null && break
  done
  for t in $targets; do
    same "${t%%:*}" "${t##*:}" && kill -s "$1" "${t%%:*}" 2>/dev/null
  done
}
alive() {
  for t in $targets; do
    same "${t%%:*}" "${t##*:}" && return 0
  done
  return 1
}
signal_all TERM
i=0
while [ $i -lt "$grace" ] && alive; do
  sleep 0.1
  i=$((i + 1))
done
signal_all KILL
