"""Training: MIPLD data tools, HKRE two-stage continued pre-training and QLoRA SFT (issue 3)."""
