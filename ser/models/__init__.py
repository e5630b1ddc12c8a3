"""Models: families (`families`, `mlp`), leave-one-speaker-out CV (`cv`, `conditioned`), training and the stored
artifact (`training`, `artifact`), metrics and plots (`metrics`, `plots`), the speaker-normalised variant
(`speaker_norm`)."""
