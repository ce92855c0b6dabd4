"""How good the samples are: the digit probe (Fréchet distance in a bundled classifier's
features), Inception-v3 FID/KID, and the readings the trainer takes between steps."""
