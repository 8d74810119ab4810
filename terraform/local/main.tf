# provider-local infrastructure: this machine is the cloud, so nothing is created outside Terraform's state.
# The "network" is a record of the node CIDR and its per-zone subnets, made with the built-in terraform_data
# resource only (no provider download: it works offline). Its ids behave like a cloud's: stable while the
# state lives, new when the state is lost.

terraform {
  required_version = ">= 1.4"
}

resource "terraform_data" "vpc" {
  input = {
    name = var.name
    cidr = var.nodes_cidr
  }
}

resource "terraform_data" "subnet" {
  count = length(var.zones)

  input = {
    vpc  = terraform_data.vpc.id
    zone = var.zones[count.index]
    cidr = cidrsubnet(var.nodes_cidr, var.subnet_bits, count.index)
  }
}

resource "terraform_data" "security_group" {
  input = {
    vpc  = terraform_data.vpc.id
    name = "${var.name}-nodes"
  }
}
