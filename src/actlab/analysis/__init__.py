"""Analysis of real models: where nonlinearity hides (audit), folding affine stacks (fold)."""
