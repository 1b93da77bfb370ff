# shellcheck shell=bash
# Turns the base rootfs into the Roost appliance: node + /opt/roost, the roost system user, the
# admin login, units enabled offline (systemctl --root), first-boot services, per-machine state
# removed (machine-id, SSH host keys, random seeds), one initramfs, checks inside the rootfs.

# Initial password of the "admin" login; it must be changed at the first login (expired).
ADMIN_USER=admin
ADMIN_INITIAL_PASSWORD=${ROOST_IMAGE_ADMIN_PASSWORD:-roost}

install_overlay() {
  local r=$1
  cp -a --no-preserve=ownership "$IMAGES_DIR/overlay/." "$r/"
  chmod 0755 "$r/usr/local/sbin/roost-firstboot" "$r/usr/local/sbin/roost-grow-root" "$r/etc/update-motd.d/50-roost"
}

install_node_and_app() {
  local r=$1 app=$2 nodepkg=$3
  install -m 0755 "$nodepkg/package/bin/node" "$r/usr/local/bin/node"
  mkdir -p "$r/usr/local/share/doc/node"
  cp "$nodepkg/package/LICENSE" "$r/usr/local/share/doc/node/LICENSE"
  safe_rm "$r/opt/roost"
  mkdir -p "$r/opt"
  cp -a "$app" "$r/opt/roost"
  chown -R 0:0 "$r/opt/roost"
  chmod -R u+rwX,go+rX,go-w "$r/opt/roost"
  chmod 0755 "$r/opt/roost/bin/roost.js"
  ln -sfn /opt/roost/bin/roost.js "$r/usr/local/bin/roost"
}

configure_system() {
  local r=$1
  echo roost > "$r/etc/hostname"
  cat > "$r/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	roost
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
  # C.UTF-8 is built into glibc: the installer's screens draw with UTF-8 symbols.
  echo 'LANG=C.UTF-8' > "$r/etc/default/locale"

  # The daemon's user, as `roost setup` would create it (setup finds it and keeps it).
  in_chroot "$r" useradd --system --user-group --home-dir /var/lib/roost --no-create-home --shell /usr/sbin/nologin roost
  mkdir -p "$r/var/lib/roost" "$r/etc/roost"
  in_chroot "$r" chown roost:roost /var/lib/roost
  chmod 0750 "$r/var/lib/roost"
  chmod 0755 "$r/etc/roost"

  # The administrator's login: sudo for `roost setup`, adm + systemd-journal for the logs.
  in_chroot "$r" useradd --create-home --shell /bin/bash --comment 'Roost administrator' \
    --groups sudo,adm,systemd-journal "$ADMIN_USER"
  printf '%s:%s\n' "$ADMIN_USER" "$ADMIN_INITIAL_PASSWORD" | in_chroot "$r" chpasswd
  # Expired: login (console or SSH) asks for a new password before anything else.
  in_chroot "$r" chage --lastday 0 "$ADMIN_USER"
  in_chroot "$r" passwd --lock root >/dev/null

  node "$IMAGES_DIR/lib/render-unit.mjs" "$r/opt/roost" > "$r/etc/systemd/system/roost.service"
  systemctl --root="$r" enable roost.service roost-firstboot.service roost-grow-root.service \
    roost-ssh-keygen.service systemd-networkd.service systemd-resolved.service systemd-timesyncd.service ssh.service 2>&1 | sed 's/^/  /' >&2
  systemctl --root="$r" set-default multi-user.target >/dev/null 2>&1
  # Debian's first-boot wizard would ask for a locale and root password on the console and hold
  # up the boot; the appliance's own first boot is roost-firstboot.service.
  systemctl --root="$r" mask systemd-firstboot.service >/dev/null 2>&1
}

# Everything that must differ between two machines made from the same image.
remove_machine_state() {
  local r=$1
  rm -f "$r"/etc/ssh/ssh_host_*
  : > "$r/etc/machine-id"
  rm -f "$r/var/lib/dbus/machine-id" "$r/var/lib/systemd/random-seed" "$r/var/lib/systemd/credential.secret"
  # A Pi has no clock battery: systemd starts the clock no earlier than this file's time (the
  # build), so certificates and the installer's clock check are not off by years before NTP.
  touch "$r/usr/lib/clock-epoch"
  find "$r/var/log" -type f \( -name '*.log' -o -name 'lastlog' -o -name 'wtmp' -o -name 'btmp' \) -exec truncate -s 0 {} +
  rm -rf "$r/var/cache/apt/"*.bin "$r/tmp/"* "$r/var/tmp/"*
}

kernel_version() { basename "$(find "$1/lib/modules" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -1)"; }

# The Pi initramfs: MODULES=list with what root on SD card or USB needs (and virtio for the qemu
# check). Every module of the listed directories is included; MODULES=most made each
# generation take ~18 min under qemu-user. On the Pi itself later kernels use the same list.
write_rpi_initramfs_config() {
  local r=$1 kver=$2 base d
  base=$r/lib/modules/$kver/kernel
  mkdir -p "$r/etc/initramfs-tools/conf.d" "$r/usr/share/initramfs-tools/modules.d"
  printf '# Roost image (Raspberry Pi): only the modules in modules.d/roost-rpi\nMODULES=list\n' > "$r/etc/initramfs-tools/conf.d/roost-rpi.conf"
  {
    echo '# Roost image: modules the Pi needs to find and mount its root filesystem.'
    for d in drivers/mmc drivers/usb/host drivers/usb/storage drivers/usb/dwc2 drivers/usb/phy drivers/reset \
      drivers/pci/controller drivers/phy/broadcom drivers/clk/bcm drivers/dma drivers/virtio drivers/block/virtio_blk.ko \
      fs/ext4 fs/fat fs/nls/nls_cp437.ko fs/nls/nls_ascii.ko fs/nls/nls_iso8859-1.ko fs/nls/nls_utf8.ko; do
      [ -e "$base/$d" ] || [ -e "$base/$d.xz" ] || continue
      find "$base/$d"* -name '*.ko*' 2>/dev/null
    done | sed 's|.*/||; s|\.ko.*$||' | sort -u
    # By name (built in or not, modprobe resolves them): Pi 4 USB (VL805 reset), DMA, GPIO expander.
    printf '%s\n' reset_raspberrypi bcm2835_dma gpio_raspberrypi_exp raspberrypi_cpufreq
  } > "$r/usr/share/initramfs-tools/modules.d/roost-rpi"
}

make_initramfs() {
  local r=$1 kver=$2
  chroot_mounts "$r"
  in_chroot "$r" update-initramfs -c -k "$kver" >&2 || { chroot_umounts; die "update-initramfs failed"; }
  chroot_umounts
}

# check_rootfs R ARCH: the target's own node runs Roost's CLI and opens a SQLite database through
# the addon (under qemu-user for arm64), and the image's units pass systemd-analyze verify.
check_rootfs() {
  local r=$1 arch=$2 out want_arch
  want_arch=$(node_pkg_arch "$arch")
  out=$(in_chroot "$r" /usr/local/bin/node -e "
    const Database = require('/opt/roost/node_modules/better-sqlite3');
    const db = new Database(':memory:');
    db.exec('create table t (x)');
    db.prepare('insert into t values (?)').run(7);
    const row = db.prepare('select sqlite_version() as v, x from t').get();
    console.log(process.arch, process.version, 'sqlite', row.v, row.x);
  " 2>&1) || die "better-sqlite3 does not load with the image's node: $out"
  case $out in
    "$want_arch v$NODE_VERSION sqlite "*" 7") log "in the rootfs: $out" ;;
    *) die "unexpected answer from node in the rootfs: $out" ;;
  esac
  out=$(in_chroot "$r" roost --version 2>&1) || die "roost --version failed in the rootfs: $out"
  log "in the rootfs: $out"
  local units=()
  for u in roost.service roost-firstboot.service roost-grow-root.service roost-ssh-keygen.service; do units+=("$r/etc/systemd/system/$u"); done
  # verify loads the units with the rootfs as /; output lines name any problem.
  out=$(systemd-analyze verify --root="$r" "${units[@]}" 2>&1) || die "systemd-analyze verify failed: $out"
  [ -z "$out" ] || log "systemd-analyze verify: $out"
}
