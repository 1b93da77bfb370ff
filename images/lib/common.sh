# shellcheck shell=bash
# Helpers shared by the image build steps: logging, timed steps, host tools, chroot mounts and
# the safety checks that keep a rootfs removal from ever reaching a bind-mounted host /dev.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'images/build.sh: %s\n' "$*" >&2; exit 1; }

# "NAME SECONDS" per finished step, printed as a table at the end.
STEP_TIMES=()
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# step NAME COMMAND...: runs and times one build step.
step() {
  local name=$1 t0
  shift
  t0=$(now)
  log "== $name"
  "$@"
  local dt
  dt=$(elapsed "$t0")
  STEP_TIMES+=("$name $dt")
  log "== $name: ${dt} s"
}

print_step_times() {
  local line
  printf '%-34s %8s\n' step seconds
  for line in "${STEP_TIMES[@]}"; do printf '%-34s %8s\n' "${line% *}" "${line##* }"; done
}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

# ensure_tools CMD:PACKAGE...: installs the Debian packages of missing commands (we run as root).
ensure_tools() {
  local pair missing=()
  for pair in "$@"; do have "${pair%%:*}" || missing+=("${pair#*:}"); done
  [ "${#missing[@]}" = 0 ] && return 0
  log "installing the host tools this build needs: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } ||
    die "could not install ${missing[*]} with apt-get"
}

# Mount points made by this build, unmounted in reverse order on exit (also on errors).
MOUNTS=()
mount_bind() { mount --bind "$1" "$2" && MOUNTS+=("$2"); }
mount_tmpfs() { mount -t tmpfs -o mode=0755 tmpfs "$1" && MOUNTS+=("$1"); }
umount_last() {
  local n=$((${#MOUNTS[@]} - 1))
  [ "$n" -ge 0 ] || return 0
  umount "${MOUNTS[$n]}" || umount -l "${MOUNTS[$n]}"
  unset "MOUNTS[$n]"
  MOUNTS=("${MOUNTS[@]}")
}
umount_all() { while [ "${#MOUNTS[@]}" -gt 0 ]; do umount_last; done; }

# chroot_mounts R: /proc, /sys and /dev inside R for maintainer scripts and update-initramfs.
chroot_mounts() {
  local r=$1 m
  for m in proc sys dev; do mount_bind "/$m" "$r/$m"; done
}
chroot_umounts() { umount_last; umount_last; umount_last; }

# Fails unless nothing is mounted at or below DIR.
assert_unmounted() {
  local dir
  dir=$(realpath -m "$1")
  if findmnt -rno TARGET | awk -v d="$dir" '$0 == d || index($0, d "/") == 1 { found = 1 } END { exit !found }'; then
    die "refusing to delete $dir: something is still mounted below it"
  fi
}

# safe_rm DIR: removes a work directory, never crossing into another filesystem.
safe_rm() {
  [ -e "$1" ] || return 0
  assert_unmounted "$1"
  rm -rf --one-file-system "$1"
}

# in_chroot R CMD...: a command inside the rootfs with a clean, predictable environment.
in_chroot() {
  local r=$1
  shift
  chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

sha256_of_files() { cat "$@" | sha256sum | cut -c1-16; }

random_uuid() { cat /proc/sys/kernel/random/uuid; }
