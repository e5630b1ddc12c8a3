"""The DVC pipeline's plumbing: params.yaml (`params`), file locations (`paths`) and the stage runner (`stage`)."""
