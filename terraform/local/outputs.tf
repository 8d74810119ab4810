output "vpc_id" {
  description = "ID of the network."
  value       = terraform_data.vpc.id
}

output "nodes_cidr" {
  description = "CIDR of the node network."
  value       = var.nodes_cidr
}

output "subnets" {
  description = "Subnet per zone: zone -> {id, cidr}."
  value = {
    for s in terraform_data.subnet : s.output.zone => { id = s.id, cidr = s.output.cidr }
  }
}

output "security_group_id" {
  description = "ID of the nodes' security group."
  value       = terraform_data.security_group.id
}

output "credentials_provided" {
  description = "Whether credentials reached Terraform (never their value)."
  value       = nonsensitive(var.credentials_token != "")
}
