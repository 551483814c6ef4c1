"""Training and evaluation logic (the models stay pure ``nn.Module``s)."""
