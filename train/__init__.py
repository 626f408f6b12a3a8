"""Training: MIPLD data tools, hardness labels, HKRE two-stage continued pre-training and QLoRA SFT."""
