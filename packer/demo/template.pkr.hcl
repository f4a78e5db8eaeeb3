# kiln's offline demo distro (iso/demo/): the ISO's isolinux boots straight into an installer that
# partitions the disk, writes /marker.txt, prints "KILN-INSTALL-OK <marker>" on the serial console
# and powers the VM off by itself. Nothing to type and no guest agent: communicator "none", and
# packer's build ends when the VM has shut down.
#
# Follows kiln's template variable contract (packer/run.ts): every template under packer/<id>/
# declares exactly these variables, so one runner drives them all.

variable "iso_url" {
  type        = string
  description = "The installer ISO: a local file path or a URL"
}

variable "iso_checksum" {
  type        = string
  description = "The ISO's checksum, \"sha256:<hex>\""
}

variable "output_directory" {
  type        = string
  description = "Where packer writes the image; must not exist"
}

variable "vm_name" {
  type        = string
  description = "The disk image's file name, e.g. demo.qcow2"
}

variable "accelerator" {
  type        = string
  description = "kvm, tcg or hvf (see builders/accel_probe.ts)"
}

variable "serial_log" {
  type        = string
  description = "Absolute path of the file that receives the guest's serial console"
}

variable "headless" {
  type    = bool
  default = true
}

variable "cpus" {
  type    = number
  default = 1
}

variable "memory" {
  type        = number
  default     = 256
  description = "MiB"
}

variable "disk_size" {
  type    = string
  default = "64M"
}

variable "boot_wait" {
  type    = string
  default = "1s"
}

variable "shutdown_timeout" {
  type    = string
  default = "2m"
}

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
