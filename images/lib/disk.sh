# shellcheck shell=bash
# Boot files and raw disk images, made without loop devices or mounts (this kind of build host
# often has no partition scanning on loop devices): each filesystem is made in a plain file
# (mke2fs -d copies a directory tree with owners, modes and xattrs; mkfs.vfat -C + mtools for
# FAT), sfdisk writes the partition table into the image file, dd puts the filesystems in place.

ESP_MIB=256        # amd64: systemd-boot, two kernels + initrds (~45 MB each) during an upgrade
FIRMWARE_MIB=512   # Pi: GPU firmware, DTBs, kernel, initrd, two of each during an upgrade
# Discoverable Partitions Specification type of an x86-64 root partition.
GPT_ROOT_X86_64=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709

# Root filesystem size: what the rootfs uses plus room for upgrades (the first boot grows it to
# the whole disk anyway). MiB, rounded up to 64.
root_size_mib() {
  local used
  used=$(du -sxm "$1" | cut -f1)
  echo $(( ( (used * 6 / 5 + 384) + 63) / 64 * 64 ))
}

# amd64 boot: fstab and kernel command line by UUID, then systemd-boot + the kernel on the ESP
# (bootctl and kernel-install inside the rootfs, on a tmpfs standing in for the ESP). The same
# kernel-install hooks keep the ESP current when the admin later upgrades the kernel.
write_fstab_amd64() {
  local r=$1 root_uuid=$2 esp_id=$3
  cat > "$r/etc/fstab" <<EOF
# <file system>	<mount point>	<type>	<options>	<dump>	<pass>
UUID=$root_uuid	/	ext4	errors=remount-ro	0	1
UUID=${esp_id:0:4}-${esp_id:4:4}	/boot/efi	vfat	umask=0077	0	1
EOF
  mkdir -p "$r/etc/kernel" "$r/boot/efi"
  echo "root=UUID=$root_uuid ro quiet console=tty0 console=ttyS0,115200" > "$r/etc/kernel/cmdline"
  echo roost > "$r/etc/kernel/entry-token"
}

stage_esp_amd64() {
  local r=$1 esp=$2 kver=$3
  safe_rm "$esp"
  mkdir -p "$esp" "$r/boot/efi"
  mount_tmpfs "$r/boot/efi"
  chroot_mounts "$r"
  local ok=1
  {
    in_chroot "$r" env SYSTEMD_RELAX_ESP_CHECKS=1 bootctl install --esp-path=/boot/efi --no-variables --make-entry-directory=yes >&2 &&
      in_chroot "$r" env SYSTEMD_RELAX_ESP_CHECKS=1 kernel-install add "$kver" "/boot/vmlinuz-$kver" "/boot/initrd.img-$kver" >&2 &&
      printf 'default roost-*\ntimeout 2\neditor no\n' > "$r/boot/efi/loader/loader.conf" &&
      # A random seed in the image would be the same on every machine made from it.
      rm -f "$r/boot/efi/loader/random-seed" &&
      cp -a "$r/boot/efi/." "$esp/"
  } || ok=0
  chroot_umounts
  umount_last
  [ "$ok" = 1 ] || die "installing systemd-boot and the kernel on the ESP failed"
  [ -f "$esp/EFI/BOOT/BOOTX64.EFI" ] && [ -f "$esp/loader/entries/roost-$kver.conf" ] || die "the ESP lacks BOOTX64.EFI or the loader entry"
}

# Pi boot: root and firmware partitions by label (Debian's raspi image names), the boot files
# raspi-firmware's hooks put in /boot/firmware moved out to become the FAT partition.
write_fstab_rpi() {
  local r=$1
  cat > "$r/etc/fstab" <<'EOF'
# <file system>	<mount point>	<type>	<options>	<dump>	<pass>
LABEL=RASPIROOT	/	ext4	errors=remount-ro	0	1
LABEL=RASPIFIRM	/boot/firmware	vfat	umask=0077	0	2
EOF
}

stage_firmware_rpi() {
  local r=$1 fw=$2
  [ -f "$r/boot/firmware/config.txt" ] && [ -f "$r/boot/firmware/cmdline.txt" ] || die "raspi-firmware left no config.txt/cmdline.txt in /boot/firmware"
  grep -q 'root=LABEL=RASPIROOT' "$r/boot/firmware/cmdline.txt" || die "cmdline.txt does not boot LABEL=RASPIROOT: $(cat "$r/boot/firmware/cmdline.txt")"
  ls "$r"/boot/firmware/initrd.img-* >/dev/null 2>&1 || die "no initrd in /boot/firmware"
  safe_rm "$fw"
  mkdir -p "$fw"
  cp -a "$r/boot/firmware/." "$fw/"
  find "$r/boot/firmware" -mindepth 1 -delete
}

# mkfs_root R FILE MIB LABEL UUID
mkfs_root() {
  mke2fs -q -t ext4 -L "$4" -U "$5" -d "$1" "$2" "${3}M" || die "mke2fs -d failed (rootfs larger than ${3} MiB?)"
}

# mkfs_fat DIR FILE MIB LABEL VOLID: FAT32 with DIR's files.
mkfs_fat() {
  local dir=$1 file=$2 mib=$3 label=$4 volid=$5
  rm -f "$file"
  mkfs.vfat -F 32 -C -n "$label" -i "$volid" "$file" $((mib * 1024)) >/dev/null || die "mkfs.vfat failed"
  # -s recursive, -m keep modification times; MTOOLS_SKIP_CHECK: the file is not a real disk.
  MTOOLS_SKIP_CHECK=1 mcopy -s -m -i "$file" "$dir"/* ::/ || die "mcopy into $file failed"
}

# place FS_FILE IMG OFFSET_MIB
place() { dd if="$1" of="$2" bs=1M seek="$3" conv=notrunc,sparse status=none; }

make_disk_amd64() {
  local r=$1 esp=$2 img=$3 root_uuid=$4 esp_id=$5 work=$6 root_mib total
  root_mib=$(root_size_mib "$r")
  total=$((1 + ESP_MIB + root_mib + 1))
  mkfs_fat "$esp" "$work/esp.fat" "$ESP_MIB" ROOST-EFI "$esp_id"
  mkfs_root "$r" "$work/root.ext4" "$root_mib" roost-root "$root_uuid"
  rm -f "$img"
  truncate -s "${total}M" "$img"
  sfdisk -q "$img" <<EOF || die "sfdisk failed on $img"
label: gpt
start=1MiB, size=${ESP_MIB}MiB, type=uefi, name="EFI system partition"
start=$((1 + ESP_MIB))MiB, size=${root_mib}MiB, type=$GPT_ROOT_X86_64, name=roost-root
EOF
  place "$work/esp.fat" "$img" 1
  place "$work/root.ext4" "$img" $((1 + ESP_MIB))
  rm -f "$work/esp.fat" "$work/root.ext4"
}

make_disk_rpi() {
  local r=$1 fw=$2 img=$3 root_uuid=$4 fw_id=$5 work=$6 root_mib total start
  root_mib=$(root_size_mib "$r")
  start=$((4 + FIRMWARE_MIB))
  total=$((start + root_mib))
  mkfs_fat "$fw" "$work/firmware.fat" "$FIRMWARE_MIB" RASPIFIRM "$fw_id"
  mkfs_root "$r" "$work/root.ext4" "$root_mib" RASPIROOT "$root_uuid"
  rm -f "$img"
  truncate -s "${total}M" "$img"
  # The Pi's boot ROM reads the first FAT partition of an MBR disk (0x0c: FAT32 with LBA).
  sfdisk -q "$img" <<EOF || die "sfdisk failed on $img"
label: dos
start=4MiB, size=${FIRMWARE_MIB}MiB, type=c
start=${start}MiB, size=${root_mib}MiB, type=83
EOF
  place "$work/firmware.fat" "$img" 4
  place "$work/root.ext4" "$img" "$start"
  rm -f "$work/firmware.fat" "$work/root.ext4"
}
