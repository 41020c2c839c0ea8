"""Training: data files, splits, and the trainers of each task."""
