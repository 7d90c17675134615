#!/usr/bin/env bash
# A throwaway Debian bookworm host for the node roles: a debootstrap root, entered by
# Ansible over SSH (sshd runs chrooted on 127.0.0.1:$PORT). It shares this machine's
# kernel and network, so apt reaches Debian's mirror; it has no GPU.
#
#   debian.sh up       fresh root from the cached base, sshd started, inventory written
#   debian.sh ensure   up, unless the host already runs (prints "started" when it started it)
#   debian.sh down     sshd stopped, mounts released, downloads kept (below), root removed
#   debian.sh inventory  print the inventory path
#   debian.sh base [INCLUDE]  the cached debootstrap minbase tar with INCLUDE's packages (comma
#                      separated; default: this host's list), built when missing; prints its path.
#                      tests/node/images.sh builds its images' root from it.
#
# What apt downloads outlives the host: `down` keeps its .deb files and package lists in
# $CACHE/apt, and `up` puts them into the next root, so a new host installs its packages for real
# (dpkg unpacks and configures them) without fetching them again. They are copied in and out
# rather than bind-mounted: hosts of two checkouts (INFEROPS_DEBIAN_PORT, INFEROPS_HOST_DIR) can
# run at once without sharing apt's locks or one `apt-get update` dropping the lists of the
# other's sources, and removing a root never reaches the cache.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$HERE/../.." && pwd)
SUITE=bookworm
MIRROR=${INFEROPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PORT=${INFEROPS_DEBIAN_PORT:-2222}
INCLUDE=python3,openssh-server,ca-certificates,pciutils,kmod
CACHE=${INFEROPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/inferops-kubernetes}/hosts
STATE=${INFEROPS_HOST_DIR:-$ROOT_DIR/.cluster/hosts/debian-$SUITE}
CHROOT=$STATE/root
APT_CACHE=$CACHE/apt

log() { printf '[debian-host] %s\n' "$*" >&2; }

need_root() {
  [ "$(id -u)" = 0 ] || { log "needs root (debootstrap, chroot, mounts)"; exit 3; }
}

# base_path INCLUDE: where the base tar with INCLUDE's packages is cached (keyed by the list)
base_path() { echo "$CACHE/debian-$SUITE-minbase-$(echo "$1" | md5sum | cut -c1-8).tar"; }

# base [INCLUDE]: build the cached base tar unless it is there; BASE is its path.
# Under a lock per tar, so two scripts asking for the same one run debootstrap once.
base() {
  local include=${1:-$INCLUDE}
  BASE=$(base_path "$include")
  [ -f "$BASE" ] && return
  need_root
  mkdir -p "$CACHE"
  exec 8>"$BASE.lock"
  flock 8
  if [ -f "$BASE" ]; then exec 8>&-; return; fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap from Debian's packages"
    # other set-up steps of the test command may hold dpkg's lock: wait for it
    apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq debootstrap >&2
  fi
  local tmp
  tmp=$(mktemp -d "${CACHE%/}.XXXXXX")
  log "debootstrap $SUITE ($include)"
  if ! debootstrap --variant=minbase --include="$include" "$SUITE" "$tmp/root" "$MIRROR" >&2; then
    log "error: debootstrap $SUITE from $MIRROR failed (log: $tmp/root/debootstrap/debootstrap.log)"
    exit 1
  fi
  tar -C "$tmp/root" -cf "$BASE.part" . && mv "$BASE.part" "$BASE"
  rm -rf "$tmp"
  exec 8>&-
}

mounted() { grep -q " $1 " /proc/mounts; }

# with_cache_lock CMD...: run CMD holding the lock of the download cache (a second or two of
# copying), so that a host starting never reads a cache that another one is replacing.
with_cache_lock() {
  mkdir -p "$APT_CACHE"
  (
    flock 7
    "$@"
  ) 7>"$CACHE/downloads.lock"
}

# link_or_copy SRC... DIR: hard links where SRC and DIR share a file system, else copies. apt and
# dpkg only read a .deb file or replace it by rename, so a link never changes the cache's copy.
link_or_copy() {
  cp -l -- "$@" 2>/dev/null || cp -p -- "$@"
}

# restore_downloads: the cached .deb files and package lists into the new root.
restore_downloads() {
  local archives=$CHROOT/var/cache/apt/archives lists=$CHROOT/var/lib/apt/lists f
  local missing=()
  for f in "$APT_CACHE/archives"/*.deb; do
    [ -f "$f" ] || continue
    [ -e "$archives/${f##*/}" ] || missing+=("$f")
  done
  if [ "${#missing[@]}" -gt 0 ]; then link_or_copy "${missing[@]}" "$archives/"; fi
  # The lists as the last host left them, with their time: the apt module's cache_valid_time
  # reads the directory's mtime, so a new host's lists are exactly as old as they are.
  if [ -d "$APT_CACHE/lists" ]; then
    rm -rf "$lists"
    cp -a "$APT_CACHE/lists" "$lists"
  fi
}

# keep_downloads: what this root downloaded, into the cache. Only .deb files apt wrote after the
# root was made (changed after its stamp) are kept, so a root whose unpacking was cut short gives
# nothing; a .deb that replaces another version of its package drops that one. The lists are
# kept when an apt-get update of this host renewed them (it renames the new files into the
# directory, which moves its mtime), with that mtime; lock and all, so that only an update
# moves it again.
keep_downloads() {
  local stamp=$STATE/root.stamp archives=$CHROOT/var/cache/apt/archives lists=$CHROOT/var/lib/apt/lists
  local f name tmp
  [ -f "$stamp" ] && [ -d "$archives" ] || return 0
  mkdir -p "$APT_CACHE/archives"
  while IFS= read -r -d '' f; do
    name=${f##*/}
    rm -f "$APT_CACHE/archives/${name%%_*}_"*"_${name##*_}" "$APT_CACHE/archives/.$name.part"
    link_or_copy "$f" "$APT_CACHE/archives/.$name.part"
    mv -f "$APT_CACHE/archives/.$name.part" "$APT_CACHE/archives/$name"
  done < <(find "$archives" -maxdepth 1 -name '*.deb' -cnewer "$stamp" -print0)
  if [ -d "$lists" ] && [ "$lists" -nt "$stamp" ] && [ "$lists" -nt "$APT_CACHE/lists" ]; then
    tmp=$(mktemp -d "$APT_CACHE/.lists.XXXXXX")
    cp -a "$lists/." "$tmp/"
    if [ -d "$tmp/partial" ]; then find "$tmp/partial" -mindepth 1 -delete; fi
    touch -r "$lists" "$tmp"
    replace_dir "$tmp" "$APT_CACHE/lists"
  fi
}

# replace_dir NEW DIR: NEW takes DIR's place
replace_dir() {
  local old=
  if [ -e "$2" ]; then
    old=$(mktemp -u "$2.old.XXXXXX")
    mv -T "$2" "$old"
  fi
  mv -T "$1" "$2"
  if [ -n "$old" ]; then rm -rf "$old"; fi
}

down() {
  # every process running inside the root: sshd and the sessions it forked
  local p
  for p in /proc/[0-9]*; do
    if [ "$(readlink "$p/root" 2>/dev/null)" = "$CHROOT" ]; then kill "${p#/proc/}" 2>/dev/null || true; fi
  done
  rm -f "$STATE/sshd.pid"
  local m
  for m in dev/pts dev proc sys; do
    if mounted "$CHROOT/$m"; then umount -l "$CHROOT/$m"; fi
  done
  if [ -d "$CHROOT" ]; then with_cache_lock keep_downloads; fi
  rm -rf "$CHROOT" "$STATE/root.stamp"
}

up() {
  need_root
  base
  down
  mkdir -p "$CHROOT"
  tar -C "$CHROOT" -xf "$BASE"
  with_cache_lock restore_downloads
  # apt-get keeps what it downloads; the apt command does too with this (Debian's default drops it)
  echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >"$CHROOT/etc/apt/apt.conf.d/10inferops-keep-downloads"
  touch "$STATE/root.stamp"
  mount -t proc proc "$CHROOT/proc"
  mount -t sysfs sys "$CHROOT/sys"
  mount --bind /dev "$CHROOT/dev"
  mount --bind /dev/pts "$CHROOT/dev/pts"
  cp /etc/resolv.conf "$CHROOT/etc/resolv.conf"
  # A host on this machine's network trusts the CAs this machine trusts (a TLS-inspecting
  # proxy on the way to PyPI, say), and uses its pip settings.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$CHROOT/usr/local/share/ca-certificates/"
    chroot "$CHROOT" update-ca-certificates >/dev/null 2>&1
  fi
  if [ -f /etc/pip.conf ]; then cp /etc/pip.conf "$CHROOT/etc/pip.conf"; fi
  echo "deb $MIRROR $SUITE main" >"$CHROOT/etc/apt/sources.list"
  [ -f "$STATE/id_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -f "$STATE/id_ed25519"
  install -d -m 700 "$CHROOT/root/.ssh"
  install -m 600 "$STATE/id_ed25519.pub" "$CHROOT/root/.ssh/authorized_keys"
  chroot "$CHROOT" ssh-keygen -A >/dev/null
  mkdir -p "$CHROOT/run/sshd"
  chroot "$CHROOT" /usr/sbin/sshd -p "$PORT" -o ListenAddress=127.0.0.1 -o PermitRootLogin=prohibit-password \
    -o PidFile=/run/sshd.pid
  # sshd returns once it has forked into the background, which may be before it listens
  for _ in $(seq 1 50); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then break; fi
    sleep 0.2
  done
  (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null || { log "sshd does not listen on 127.0.0.1:$PORT"; exit 1; }
  cat >"$STATE/inventory.yml" <<INV
---
all:
  hosts:
    debian-$SUITE:
      ansible_host: 127.0.0.1
      ansible_port: $PORT
      ansible_user: root
      ansible_ssh_private_key_file: $STATE/id_ed25519
      # each up is a new host, with new keys: none to remember; its connection ends with it
      ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
      ansible_pipelining: true
      ansible_python_interpreter: /usr/bin/python3
INV
  log "ready: ssh -p $PORT root@127.0.0.1 (inventory $STATE/inventory.yml)"
}

running() {
  [ -d "$CHROOT/etc" ] && (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null
}

case "${1:-}" in
  up) up; echo started ;;
  ensure) if running; then echo "already running"; else up; echo started; fi ;;
  down) need_root; down ;;
  inventory) echo "$STATE/inventory.yml" ;;
  base) base "${2:-}"; echo "$BASE" ;;
  *) echo "usage: $0 up|ensure|down|inventory|base [INCLUDE]" >&2; exit 2 ;;
esac
