# Ubuntu 22.04 live-server (amd64): an unattended subiquity autoinstall, BIOS boot.
#
# The ISO boots GRUB on BIOS too (Ubuntu left isolinux at 20.10): boot_command opens GRUB's
# command line ("c") and boots the casper kernel by hand with "autoinstall" (no confirmation
# prompt) and the NoCloud seed served by packer's HTTP server (http/user-data, http/meta-data).
# The ";" in the ds= argument is escaped for GRUB ("\;"). console=ttyS0 comes last, so the
# installer's output reaches serial_log.
#
# communicator = "none": subiquity powers the VM off when it is done ("shutdown: poweroff" in
# user-data) and packer only waits for that, for at most shutdown_timeout. So no build user, no
# password and no SSH server wait: the image ships without any build credential.
#
# No `packer {}` block here: kiln writes plugins.pkr.hcl beside this file for packer >= 1.7
# (packer/templates.ts); packer 1.6 would reject the block.

# Input variables: kiln's template contract, declared once in packer/variables.pkr.hcl,
# which kiln copies beside this file (packer/templates.ts, prepareTemplate).

source "qemu" "ubuntu" {
  iso_url          = var.iso_url
  iso_checksum     = var.iso_checksum
  output_directory = var.output_directory
  vm_name          = var.vm_name
  accelerator      = var.accelerator
  headless         = var.headless
  cpus             = var.cpus
  memory           = var.memory
  disk_size        = var.disk_size
  format           = "qcow2"
  disk_interface   = "virtio"
  net_device       = "virtio-net"
  # Zeroed and trimmed blocks stay unallocated: a smaller image to compress later.
  disk_discard       = "unmap"
  disk_detect_zeroes = "unmap"
  # kiln's compress step rewrites the image anyway; compacting here would copy it twice.
  skip_compaction  = true
  disk_compression = false
  http_directory   = "${path.root}/http"
  qemuargs         = [["-serial", "file:${var.serial_log}"]]
  boot_wait        = var.boot_wait
  boot_command = [
    "<wait>c<wait2>",
    "linux /casper/vmlinuz autoinstall ds=nocloud-net\\;s=http://{{ .HTTPIP }}:{{ .HTTPPort }}/",
    " console=tty0 console=ttyS0,115200n8 ---<enter><wait>",
    "initrd /casper/initrd<enter><wait>",
    "boot<enter>",
  ]
  communicator     = "none"
  shutdown_timeout = var.shutdown_timeout
}

build {
  sources = ["source.qemu.ubuntu"]
}
