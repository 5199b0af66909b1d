"""The demo report's sections, in the order they run and are numbered: their names (the keys of
results.json and of the demo's progress) and their headings. Read by the report and by
``actlab demo --help`` (a light module: the help imports nothing heavy)."""

SECTIONS = ("univariate", "collapse", "derivation", "xor", "geometry", "dynamics", "signal", "kernels", "hidden", "audit")
TITLES = {
    "univariate": "The univariate case",
    "collapse": "Networks without activations are affine maps",
    "derivation": "The algebra, generated",
    "xor": "XOR",
    "geometry": "What the activation does",
    "dynamics": "Linear map, nonlinear learning",
    "signal": "Signal through depth",
    "kernels": "Infinite width",
    "hidden": "Where nonlinearity hides",
    "audit": "On a real model: audit and fold",
}
