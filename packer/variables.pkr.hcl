# kiln's template contract: the input variables of every template under packer/<id>/, declared
# once. kiln's runner passes all of them with -var (packer/template_vars.ts, TEMPLATE_VARIABLES),
# and prepareTemplate (packer/templates.ts) copies this file beside the template it prepares. To
# use a template with plain packer, copy this file into its folder.

variable "iso_url" {
  type        = string
  description = "Installer ISO: a local path or a URL (kiln passes the verified local copy)."
}

variable "iso_checksum" {
  type        = string
  description = "Checksum of the ISO, \"sha256:<hex>\"; packer refuses an ISO that does not match."
}

variable "output_directory" {
  type        = string
  description = "Where packer writes the disk image; must not exist yet."
}

variable "vm_name" {
  type        = string
  description = "File name of the disk image inside output_directory, e.g. \"ubuntu-22.04.qcow2\"."
}

variable "accelerator" {
  type        = string
  description = "QEMU accelerator: \"kvm\", \"tcg\" or \"hvf\"."
}

variable "serial_log" {
  type        = string
  description = "Absolute path of the file that receives the guest's serial console."
}

variable "headless" {
  type        = bool
  default     = true
  description = "Run QEMU without a display window."
}

variable "cpus" {
  type        = number
  description = "Virtual CPUs of the build VM."
}

variable "memory" {
  type        = number
  description = "Memory of the build VM, in MiB."
}

variable "disk_size" {
  type        = string
  description = "Virtual size of the disk, e.g. \"20G\"."
}

variable "boot_wait" {
  type        = string
  description = "How long to wait for the ISO's boot menu before typing boot_command, e.g. \"10s\"."
}

variable "shutdown_timeout" {
  type        = string
  description = "How long the whole unattended install may take before the VM powers itself off."
}
