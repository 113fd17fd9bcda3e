#!/bin/sh
# The supervisor's watchdog (see watchdog.ts). Usage: watchdog.sh <grace in tenths of a second>.
# Its stdin, a pipe from its supervisor, is all it trusts (never a file another user could have put there): the
# supervisor sends what to end as a block ("targets", then "pgid <group>" and "pid <pid> <start time>" lines,
# then "end") whenever that changes, and "bye" when it leaves on purpose. If the pipe closes without "bye" (kill
# -9, the OOM killer, a crash), the watchdog ends the last whole block and what joined it since: TERM, the grace,
# KILL. Just before each signal, a pid is signalled only while its start time (field 22 of /proc/<pid>/stat) is
# the one sent, and the group only while one of those lives in it: a watchdog that acts late (stopped, then
# continued) never touches a pid or group recycled since. Builtins only in the loops: no fork per process.
# With "ps" as its second argument (the portable backend, macOS: no /proc), the same figures come from ps, start
# times as the supervisor counts them there (lstart in UTC, as seconds since 1970): one ps and awk per pass
# (refresh), read with builtins. There, with no subreaper, an orphan no scan saw (a double-forked daemon) is found
# by the run's mark in its environment ("mark NAME=value" in the block): the third argument is ps's flag that
# prints environments (BSD -E, procps e), and a process that carries the mark is ended with the rest.
trap '' INT HUP TERM QUIT TSTP TTIN TTOU
grace=$1
mode=${2:-proc}
env_flag=${3:-}
targets=""
group=""
mark=""
while read -r kind a b; do
  case $kind in
    bye) exit 0 ;;
    targets) next="" next_group="" next_mark="" ;;
    pid) case "$a:$b" in *[!0-9:]* | :* | *:) ;; *) next="$next $a:$b" ;; esac ;;
    pgid) case $a in '' | *[!0-9]* | 0 | 1) ;; *) next_group=$a ;; esac ;;
    mark) next_mark=$a ;;
    end) targets=$next group=$next_group mark=$next_mark ;;
  esac
done
[ -n "$targets" ] || exit 0
# ps's rows as "pid ppid pgid state start marked": lstart (UTC) turned into seconds since 1970 (days from the civil
# date); marked is 1 when a word of the process's arguments or environment is the run's mark.
# With "marks" first: environments are printed (slower), else marked is 0.
ps_rows() {
  if [ "$1" = marks ] && [ -n "$mark" ] && [ -n "$env_flag" ]; then
    set -- "$env_flag" -ww -o pid=,ppid=,pgid=,state=,lstart=,args=
  else
    set -- -o pid=,ppid=,pgid=,state=,lstart=
  fi
  LC_ALL=C TZ=UTC ps -A "$@" 2>/dev/null | awk -v mark="$mark" '{
    m = (index("JanFebMarAprMayJunJulAugSepOctNovDec", $6) + 2) / 3; d = $7; y = $9; split($8, t, ":")
    y -= (m <= 2); era = int(y / 400); yoe = y - era * 400; mp = (m + 9) % 12
    doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + int((153 * mp + 2) / 5) + d - 1
    marked = 0
    if (mark != "") for (i = 10; i <= NF; i++) if ($i == mark) marked = 1
    printf "%s %s %s %s %d %d\n", $1, $2, $3, substr($4, 1, 1), ((era * 146097 + doe - 719468) * 24 + t[1]) * 3600 + t[2] * 60 + t[3], marked
  }'
}
# ps mode: the table as it is now, one row a line between newlines, for stat_of; "marks": with the marked column
# (what verify looks for; alive, in the grace's loop, needs only the targets and stays quick).
refresh() {
  [ "$mode" = ps ] || return 0
  rows="
$(ps_rows "${1:-}")
"
}
# Sets state, ppid, pgid and start of pid $1 (ps mode: as of the last refresh); fails when there is no such process.
stat_of() {
  if [ "$mode" = ps ]; then
    r=${rows#*"
$1 "}
    [ "$r" != "$rows" ] || return 1
    # shellcheck disable=SC2086
    set -- ${r%%"
"*}
    ppid=$1 pgid=$2 state=$3 start=$4
    return 0
  fi
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
  refresh marks
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
    if [ "$mode" = ps ]; then
      pids=$rows
    else
      pids=$(for f in /proc/[0-9]*/stat; do pid=${f#/proc/} && echo "${pid%/stat}"; done)
    fi
    # ps mode: each row read as it comes (a lookup in the whole table per row would be quadratic).
    while read -r pid ppid pgid state start marked; do
      [ -n "$pid" ] || continue
      case "$live" in *" $pid "*) continue ;; esac
      if [ "$mode" != ps ] && ! stat_of "$pid"; then continue; fi
      [ "$state" = Z ] && continue
      case "$live" in
        *" $ppid "*) ;;
        *) if [ "$marked" != 1 ] && { [ -z "$ours" ] || [ "$pgid" != "$group" ]; }; then continue; fi ;;
      esac
      targets="$targets $pid:$start" live="$live$pid " added=1
    done <<PIDS
$pids
PIDS
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
  refresh
  for t in $targets; do
    same "${t%%:*}" "${t##*:}" && return 0
  done
  return 1
}
signal_all TERM
i=0
while [ $i -lt "$grace" ]; do
  # The tenth of a second runs while alive looks (a ps pass in ps mode): the grace stays its length.
  sleep 0.1 &
  alive || break
  wait $!
  i=$((i + 1))
done
signal_all KILL
