variable "name" {
  description = "Name of the infrastructure, usually the shoot's seed namespace."
  type        = string
}

variable "nodes_cidr" {
  description = "CIDR of the node network."
  type        = string
  default     = "10.250.0.0/16"

  validation {
    condition     = can(cidrhost(var.nodes_cidr, 0))
    error_message = "The nodes_cidr value must be a valid CIDR block."
  }
}

variable "zones" {
  description = "Zones to make a subnet in, one each."
  type        = list(string)
  default     = []
}

variable "subnet_bits" {
  description = "Bits added to the node CIDR's prefix for each zone's subnet."
  type        = number
  default     = 3
}

variable "credentials_token" {
  description = "Provider credentials; provider-local needs none but proves they travel as TF_VAR_ only."
  type        = string
  default     = ""
  sensitive   = true
}
