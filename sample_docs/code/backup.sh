#!/usr/bin/env bash
# Rotating backups of a folder: one tarball per day, the last N kept.
set -euo pipefail

readonly KEEP="${KEEP:-7}"
readonly DEST="${DEST:-/var/backups/site}"

log() {
  printf '%s %s\n' "$(date -u +%FT%TZ)" "$*" >&2
}

die() {
  log "error: $*"
  exit 1
}

usage() {
  cat <<USAGE
usage: $(basename "$0") SOURCE_DIR
  KEEP=$KEEP  DEST=$DEST
USAGE
}

make_archive() {
  local src="$1" name
  name="$(basename "$src")-$(date -u +%Y%m%d).tar.gz"
  tar -czf "$DEST/$name" -C "$(dirname "$src")" "$(basename "$src")"
  log "wrote $DEST/$name"
}

function prune {
  local count=0
  # Newest first; everything after the first $KEEP goes.
  for archive in $(ls -1t "$DEST"/*.tar.gz 2>/dev/null); do
    count=$((count + 1))
    if (( count > KEEP )); then
      rm -f -- "$archive"
      log "removed $archive"
    fi
  done
}

main() {
  [[ $# -eq 1 ]] || { usage; exit 2; }
  [[ -d "$1" ]] || die "not a folder: $1"
  mkdir -p "$DEST"
  make_archive "$1"
  prune
}

main "$@"
