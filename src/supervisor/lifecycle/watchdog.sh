#!/bin/sh
# The supervisor's watchdog (see watchdog.ts). Usage: watchdog.sh <ledger file> <grace in tenths of a second>.
# Reads its stdin until the supervisor says "bye" (it leaves on purpose) or the pipe closes (it was killed); then
# ends every process of the ledger: TERM, the grace, KILL. Builtins only in the loops: no fork per process.
trap '' INT HUP TERM QUIT TSTP TTIN TTOU
ledger=$1
grace=$2
while IFS= read -r line; do
  [ "$line" = bye ] && exit 0
done
[ -f "$ledger" ] || exit 0
known=" "
targets=""
while read -r kind a b; do
  case $kind in
    pid) known="$known$a "; targets="$targets $a:$b" ;;
    pgid) group=$a ;;
  esac
done < "$ledger"
pass=0
while [ $pass -lt 4 ]; do
  added=0
  for f in /proc/[0-9]*/stat; do
    { read -r s < "$f"; } 2>/dev/null || continue
    pid=${s%% *}
    case "$known" in *" $pid "*) continue ;; esac
    rest=${s##*) }
    set -- $rest
    case "$known" in *" $2 "*) known="$known$pid "; targets="$targets $pid:${20}"; added=1 ;; esac
  done
  [ $added = 0 ] && break
  pass=$((pass + 1))
done
same() {
  { read -r s < "/proc/$1/stat"; } 2>/dev/null || return 1
  rest=${s##*) }
  set -- "$2" $rest
  [ "$2" != Z ] && [ "${21}" = "$1" ]
}
signal_all() {
  [ -n "$group" ] && [ "$group" -gt 1 ] && kill -s "$1" -- "-$group" 2>/dev/null
  for t in $targets; do
    same "${t%%:*}" "${t##*:}" && kill -s "$1" "${t%%:*}" 2>/dev/null
  done
}
alive() {
  for t in $targets; do
    same "${t%%:*}" "${t##*:}" && return 0
  done
  [ -n "$group" ] && [ "$group" -gt 1 ] && kill -0 -- "-$group" 2>/dev/null
}
signal_all TERM
i=0
while [ $i -lt "$grace" ] && alive; do
  sleep 0.1
  i=$((i + 1))
done
signal_all KILL
