"""Datasets: the iHarmony4 layout, le50 lists, CSV manifests, transforms, and the synthetic composite generator."""
