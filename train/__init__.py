"""Training: SFT, RFT and GRPO entry points built on cort/."""
