# AlmaLinux 9 (x86_64, DVD ISO): an unattended Anaconda kickstart install, BIOS boot.
#
# EL9 ISOs boot isolinux on BIOS. Its menu opens on "Test this media & install", so
# boot_command moves up to the plain "Install" entry, presses Tab to edit its kernel line and
# appends the kickstart served by packer's HTTP server (http/ks.cfg), text mode, and the serial
# console (console=ttyS0 last, so Anaconda's output reaches serial_log).
#
# communicator = "none": the kickstart ends with "poweroff", and packer only waits for the VM to
# power itself off, for at most shutdown_timeout. So no build user, no password and no SSH server
# wait: the image ships without any build credential.
#
# No `packer {}` block here: kiln writes plugins.pkr.hcl beside this file for packer >= 1.7
# (packer/templates.ts); packer 1.6 would reject the block.

# Input variables: kiln's template contract, declared once in packer/variables.pkr.hcl,
# which kiln copies beside this file (packer/templates.ts, prepareTemplate).

source "qemu" "almalinux" {
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
    "<up><wait><tab><wait>",
    " inst.text inst.ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks.cfg",
    " console=tty0 console=ttyS0,115200n8<enter>",
  ]
  communicator     = "none"
  shutdown_timeout = var.shutdown_timeout
}

build {
  sources = ["source.qemu.almalinux"]
}
