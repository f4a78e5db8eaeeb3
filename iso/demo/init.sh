#!/bin/busybox sh
# /init of kiln's demo distro: a busybox initramfs that "installs" itself onto a disk, reads the
# installed disk back, or only proves that the machine boots. The mode and the marker value come
# from the kernel command line:
#   kiln.mode=install   partition the disk, make a file system labelled DATA (busybox mke2fs:
#                       ext2, mounted by the ext4 driver), write
#                       /marker.txt, print "KILN-INSTALL-OK <marker>", power off
#   kiln.mode=readback  mount the disk read-only, print "KILN-READBACK <marker.txt>", power off
#   kiln.mode=probe     print "KILN-PROBE-OK", power off (the accelerator probe)
#   kiln.marker=VALUE   the value install writes (no spaces)
# Every outcome ends in a power-off, so a VM never hangs waiting for a human; failures print a
# "KILN-...-FAILED <why>" line instead of the success marker.

/bin/busybox mkdir -p /proc /sys /dev /mnt /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mode=install
marker=none
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    kiln.mode=*) mode="${arg#kiln.mode=}" ;;
    kiln.marker=*) marker="${arg#kiln.marker=}" ;;
  esac
done

say() { echo "$*"; }
off() {
  sync
  poweroff -f
  sleep 60
}

case "$mode" in
  probe)
    say "KILN-PROBE-OK"
    off
    ;;
  install | readback) ;;
  *)
    say "KILN-FAILED unknown kiln.mode \"$mode\""
    off
    ;;
esac

load() {
  for m in "$@"; do
    modprobe "$m" 2>/dev/null || echo "kiln: module $m did not load"
  done
}

# Waits up to $1 tenths of a second for /dev/vda or /dev/sda; sets $disk.
find_disk() {
  for i in $(seq 1 "$1"); do
    for d in /dev/vda /dev/sda; do
      if [ -b "$d" ]; then
        disk=$d
        return 0
      fi
    done
    sleep 0.1
  done
  return 1
}

# virtio first: probing the IDE/SATA controllers costs a second under emulation.
disk=
load virtio_pci virtio_blk
if ! find_disk 10; then
  load ahci ata_piix sd_mod
  find_disk 100
fi
if [ -z "$disk" ]; then
  say "KILN-$(echo "$mode" | tr a-z A-Z)-FAILED no disk found (looked for /dev/vda and /dev/sda)"
  off
fi
load crc32c_generic ext4
part="${disk}1"

case "$mode" in
  install)
    printf 'o\nn\np\n1\n\n\nw\n' | fdisk "$disk" >/dev/null 2>&1
    for i in $(seq 1 50); do
      [ -b "$part" ] && break
      sleep 0.1
    done
    if ! mke2fs -L DATA "$part" >/tmp/mke2fs.log 2>&1; then
      cat /tmp/mke2fs.log
      say "KILN-INSTALL-FAILED mke2fs on $part failed"
      off
    fi
    if ! mount -t ext4 "$part" /mnt; then
      say "KILN-INSTALL-FAILED mount of $part failed"
      off
    fi
    echo "$marker" >/mnt/marker.txt
    sync
    umount /mnt
    say "KILN-INSTALL-OK $marker"
    ;;
  readback)
    if mount -t ext4 -o ro,noload "$part" /mnt 2>/dev/null && [ -f /mnt/marker.txt ]; then
      say "KILN-READBACK $(cat /mnt/marker.txt)"
      umount /mnt
    else
      say "KILN-READBACK-FAILED no marker.txt on $part"
    fi
    ;;
esac
off
