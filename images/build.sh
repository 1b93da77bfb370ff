#!/usr/bin/env bash
# Builds a Roost appliance disk image (see images/README.md).
#
#   images/build.sh amd64|arm64 [--out DIR] [--xz] [--cache DIR]
#
#   amd64  roost-<version>-amd64.img: GPT, EFI system partition with systemd-boot, ext4 root;
#          for virtual machines (UEFI firmware) and PCs.
#   arm64  roost-<version>-raspi-arm64.img: MBR, FAT32 RASPIFIRM (Pi firmware, kernel) +
#          ext4 RASPIROOT; for the Raspberry Pi 3, 4, 400, CM4, Zero 2 W.
#   --out DIR    where the image and its rootfs go (default images/out/)
#   --xz         compress the image to .img.xz (the raw .img is then removed)
#   --cache DIR  reuse the day's base rootfs, the node download and the compiled addon from DIR
#
# Run as root on Debian (or a derivative) with Node.js and npm; missing Debian tools are
# installed with apt. The Debian mirror is the one this machine's apt uses.
set -euo pipefail

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$IMAGES_DIR/.." && pwd)
# shellcheck source=/dev/null
. "$IMAGES_DIR/versions.env"
for lib in common rootfs node-app customize disk; do
  # shellcheck source=/dev/null
  . "$IMAGES_DIR/lib/$lib.sh"
done

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

ARCH=
OUT=$IMAGES_DIR/out
XZ=0
CACHE_DIR=
while [ $# -gt 0 ]; do
  case $1 in
    amd64 | arm64) ARCH=$1 ;;
    --out) OUT=${2:?--out needs a directory}; shift ;;
    --out=*) OUT=${1#--out=} ;;
    --xz) XZ=1 ;;
    --cache) CACHE_DIR=${2:?--cache needs a directory}; shift ;;
    --cache=*) CACHE_DIR=${1#--cache=} ;;
    -h | --help) usage 0 ;;
    *) echo "images/build.sh: unknown argument: $1" >&2; usage ;;
  esac
  shift
done
[ -n "$ARCH" ] || usage
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap, chroot and device-owning files need it)"
have dpkg || die "this build runs on Debian or a derivative (no dpkg here)"
have node && have npm || die "Node.js and npm are needed on this machine"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
[ -z "$CACHE_DIR" ] || { mkdir -p "$CACHE_DIR" && CACHE_DIR=$(cd "$CACHE_DIR" && pwd); }
WORK=$OUT/work-$ARCH
ROOTFS=$OUT/rootfs-$ARCH
VERSION=$(node -p "require('$REPO/package.json').version")
case $ARCH in
  amd64) IMG=$OUT/roost-$VERSION-amd64.img ;;
  arm64) IMG=$OUT/roost-$VERSION-raspi-arm64.img ;;
esac

trap 'umount_all' EXIT
trap 'umount_all; exit 130' INT TERM

T_START=$(now)
tools=(mmdebstrap:mmdebstrap sfdisk:fdisk mkfs.vfat:dosfstools mcopy:mtools mke2fs:e2fsprogs
  systemd-analyze:systemd openssl:openssl zstd:zstd)
[ "$ARCH" = arm64 ] && [ "$(dpkg --print-architecture)" != arm64 ] &&
  tools+=(qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support aarch64-linux-gnu-g++:g++-aarch64-linux-gnu)
[ "$XZ" = 1 ] && tools+=(xz:xz-utils)
step "host tools" ensure_tools "${tools[@]}"
have g++ && have make && have python3 || log "note: g++, make and python3 are needed if better-sqlite3 must be compiled"

safe_rm "$WORK"
mkdir -p "$WORK"
step "compile Roost (tsc)" compile_roost "$REPO"
step "node $NODE_VERSION ($ARCH)" fetch_node "$ARCH" "$WORK/node"
step "app: npm ci --omit=dev" stage_app "$REPO" "$WORK/app"
step "app: better-sqlite3 for $ARCH" build_addon "$ARCH" "$WORK/app" "$WORK/node/package"
step "base rootfs (mmdebstrap)" build_base "$ARCH" "$ROOTFS" "$WORK" "$CACHE_DIR"

KVER=$(kernel_version "$ROOTFS")
[ -f "$ROOTFS/boot/vmlinuz-$KVER" ] || die "no kernel in the rootfs"
ROOT_UUID=$(random_uuid)
FAT_ID=$(random_uuid | tr -d - | cut -c1-8 | tr a-f A-F)

step "install node + /opt/roost" install_node_and_app "$ROOTFS" "$WORK/app" "$WORK/node"
step "overlay (units, first boot)" install_overlay "$ROOTFS"
step "users, units, settings" configure_system "$ROOTFS"
case $ARCH in
  amd64) write_fstab_amd64 "$ROOTFS" "$ROOT_UUID" "$FAT_ID" ;;
  arm64) write_fstab_rpi "$ROOTFS"; write_rpi_initramfs_config "$ROOTFS" "$KVER" ;;
esac
step "initramfs ($KVER)" make_initramfs "$ROOTFS" "$KVER"
case $ARCH in
  amd64) step "ESP: systemd-boot + kernel" stage_esp_amd64 "$ROOTFS" "$WORK/esp" "$KVER" ;;
  arm64) step "Pi firmware partition files" stage_firmware_rpi "$ROOTFS" "$WORK/firmware" ;;
esac
step "remove per-machine state" remove_machine_state "$ROOTFS"
step "checks in the rootfs" check_rootfs "$ROOTFS" "$ARCH"

dpkg-query --admindir="$ROOTFS/var/lib/dpkg" -W -f '${Package} ${Version}\n' > "${IMG%.img}.packages"
case $ARCH in
  amd64) step "disk image (GPT, UEFI)" make_disk_amd64 "$ROOTFS" "$WORK/esp" "$IMG" "$ROOT_UUID" "$FAT_ID" "$WORK" ;;
  arm64) step "disk image (Pi, MBR)" make_disk_rpi "$ROOTFS" "$WORK/firmware" "$IMG" "$ROOT_UUID" "$FAT_ID" "$WORK" ;;
esac
# The boot files the qemu check uses for a direct kernel boot (arm64: no Pi firmware in qemu).
mkdir -p "$OUT/boot-$ARCH"
cp "$ROOTFS/boot/vmlinuz-$KVER" "$OUT/boot-$ARCH/vmlinuz"
cp "$ROOTFS/boot/initrd.img-$KVER" "$OUT/boot-$ARCH/initrd.img"

FINAL=$IMG
if [ "$XZ" = 1 ]; then
  step "xz" xz -T0 -6 -f "$IMG"
  FINAL=$IMG.xz
fi
write_checksum() { (cd "$OUT" && sha256sum "$(basename "$FINAL")" > "$(basename "$FINAL").sha256"); }
step "sha256" write_checksum
step "remove the work directory" safe_rm "$WORK"

{
  print_step_times
  printf '%-34s %8s\n' total "$(elapsed "$T_START")"
  echo
  echo "image:   $FINAL ($(du -h --apparent-size "$FINAL" | cut -f1) apparent, $(du -h "$FINAL" | cut -f1) on disk)"
  echo "rootfs:  $ROOTFS ($(du -sxh "$ROOTFS" | cut -f1)), kernel $KVER, node $NODE_VERSION, Roost $VERSION"
  echo "packages: ${IMG%.img}.packages"
  [ -f "$IMG" ] && sfdisk -l "$IMG" 2>/dev/null | sed -n '/^Device/,$p' || true
} >&2
echo "$FINAL"
