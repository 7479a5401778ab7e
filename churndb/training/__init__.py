"""Training: loading a point-in-time training set, split / fit / evaluate, registering a candidate and
promoting it against the champion."""
