# kiln's offline demo distro (iso/demo/): the ISO's isolinux boots straight into an installer that
# partitions the disk, writes /marker.txt, prints "KILN-INSTALL-OK <marker>" on the serial console
# and powers the VM off by itself. Nothing to type and no guest agent: communicator "none", and
# packer's build ends when the VM has shut down.
#
# Input variables: kiln's template contract, declared once in packer/variables.pkr.hcl,
# which kiln copies beside this file (packer/templates.ts, prepareTemplate).

source "qemu" "demo" {
  iso_url          = var.iso_url
  iso_checksum     = var.iso_checksum
  output_directory = var.output_directory
  vm_name          = var.vm_name
  accelerator      = var.accelerator
  headless         = var.headless
  cpus             = var.cpus
  memory           = var.memory
  disk_size        = var.disk_size
  boot_wait        = var.boot_wait
  shutdown_timeout = var.shutdown_timeout

  format         = "qcow2"
  disk_interface = "virtio"
  communicator   = "none"
  boot_command   = []
  qemuargs       = [["-serial", "file:${var.serial_log}"]]
}

build {
  sources = ["source.qemu.demo"]
}
