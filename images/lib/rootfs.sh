# shellcheck shell=bash
# The base root filesystem: Debian minbase + what an appliance needs, made by mmdebstrap from the
# host's own Debian mirror (lib/apt-sources.mjs). The kernel goes in last with INITRD=No: the
# initramfs is generated once, later, after fstab and the module list are in place (letting
# dpkg make it would run it twice, once from the kernel hook and again from the initramfs-tools
# trigger: 2 x 45 s for amd64 here, ~2 x 18 min for arm64 under qemu-user).

# Packages of both images. minbase has no init, no network tools, no ssh.
BASE_PACKAGES=(
  systemd-sysv udev dbus libpam-systemd systemd-resolved systemd-timesyncd
  openssh-server sudo ca-certificates iproute2 iputils-ping less nano procps
  fdisk e2fsprogs dosfstools kmod tzdata zstd initramfs-tools
)
# Per architecture: bootloader tooling in the base, kernel (+ Pi firmware) in the hook.
base_packages() {
  case $1 in
    amd64) printf '%s\n' "${BASE_PACKAGES[@]}" systemd-boot ;;
    arm64) printf '%s\n' "${BASE_PACKAGES[@]}" ;;
  esac
}
kernel_packages() {
  case $1 in
    # The generic kernel, not linux-image-cloud-amd64: the cloud flavour lacks AHCI and e1000,
    # the default disk and network devices of VirtualBox, VMware and QEMU's q35.
    amd64) echo linux-image-amd64 ;;
    # Debian's arm64 kernel has the Pi 3/4/400/CM4/Zero 2 W device trees; raspi-firmware
    # (non-free-firmware) brings the GPU boot firmware and fills /boot/firmware from hooks.
    arm64) echo linux-image-arm64 raspi-firmware ;;
  esac
}

# The Pi boot configuration raspi-firmware's hooks read: root by label (the same image boots
# from SD, USB and, for the test, qemu's virtio disk), serial console on the Pi's GPIO UART.
raspi_firmware_defaults() {
  cat <<'EOF'
# Written by Roost's image build; read by raspi-firmware's hooks to make cmdline.txt.
ROOTPART=LABEL=RASPIROOT
CONSOLES="ttyS1,115200 tty0"
EOF
}

# The hook mmdebstrap runs in the finished chroot (it has mounted /proc, /sys and /dev there).
write_base_hook() {
  local file=$1 arch=$2
  {
    echo '#!/bin/sh'
    echo 'set -eu'
    echo 'R=$1'
    if [ "$arch" = arm64 ]; then
      echo 'mkdir -p "$R/boot/firmware" "$R/etc/default"'
      printf 'cat > "$R/etc/default/raspi-firmware" <<"EOF"\n%s\nEOF\n' "$(raspi_firmware_defaults)"
    fi
    # systemd-resolved made /etc/resolv.conf a link to its stub, which nothing serves in the
    # chroot: borrow the host's resolver configuration for the download, then put the link back.
    echo 'mv "$R/etc/resolv.conf" "$R/etc/resolv.conf.roost-image"'
    echo 'cp -L /etc/resolv.conf "$R/etc/resolv.conf"'
    # force-confold: keep the pre-written /etc/default/raspi-firmware instead of asking.
    printf 'chroot "$R" env INITRD=No DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold %s\n' "$(kernel_packages "$arch")"
    echo 'mv -f "$R/etc/resolv.conf.roost-image" "$R/etc/resolv.conf"'
  } > "$file"
  chmod +x "$file"
}

# build_base ARCH DIR WORK [CACHE]: DIR becomes the base rootfs (restored from CACHE when an
# identical one was made today; the day is part of the key so security updates are picked up).
build_base() {
  local arch=$1 r=$2 work=$3 cache=${4:-} sources hook key tarball
  mapfile -t sources < <(node "$IMAGES_DIR/lib/apt-sources.mjs" "$DEBIAN_SUITE" main,non-free-firmware)
  [ "${#sources[@]}" -gt 0 ] || die "no Debian mirror found in the host's apt sources"
  log "Debian archives (from this machine's apt sources): ${sources[*]}"
  hook=$work/base-hook.sh
  write_base_hook "$hook" "$arch"
  key=$(printf '%s\n' "$arch" "$DEBIAN_SUITE" "$(base_packages "$arch")" "${sources[@]}" "$(date -u +%F)" "$(cat "$hook")" | sha256sum | cut -c1-16)
  tarball=${cache:+$cache/base-$arch-$key.tar.zst}
  safe_rm "$r"
  if [ -n "$tarball" ] && [ -s "$tarball" ]; then
    log "base rootfs from the cache: $tarball"
    mkdir -p "$r"
    tar -C "$r" --zstd --xattrs --xattrs-include='*' --numeric-owner -xpf "$tarball"
    return 0
  fi
  if [ "$arch" != "$(dpkg --print-architecture)" ]; then
    # Foreign architecture: maintainer scripts run under qemu-user through binfmt_misc (F flag:
    # the emulator is opened at registration, so it works inside the chroot without a copy).
    mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    update-binfmts --enable "qemu-$(qemu_name "$arch")" >/dev/null 2>&1 || true
    [ -e "/proc/sys/fs/binfmt_misc/qemu-$(qemu_name "$arch")" ] || die "qemu-$(qemu_name "$arch") is not registered with binfmt_misc (install qemu-user-static binfmt-support)"
  fi
  local include
  include=$(base_packages "$arch" | paste -sd,)
  mmdebstrap --mode=root --format=directory --variant=minbase --arch="$arch" \
    --include="$include" --customize-hook="\"$hook\" \"\$1\"" \
    "$DEBIAN_SUITE" "$r" "${sources[@]}" >&2
  if [ -n "$tarball" ]; then
    mkdir -p "$cache"
    rm -f "$cache/base-$arch-"*.tar.zst
    tar -C "$r" --zstd --xattrs --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    log "base rootfs cached: $tarball ($(du -h "$tarball" | cut -f1))"
  fi
}

qemu_name() { case $1 in arm64) echo aarch64 ;; amd64) echo x86_64 ;; *) echo "$1" ;; esac; }
