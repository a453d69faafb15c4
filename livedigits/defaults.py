"""Defaults shared by the command line, the run loop and the pipeline, defined once here."""

MIN_CONFIDENCE = 0.6  # digits read with less confidence than this are dropped
RETRIES = 5  # reconnects of a dropped live stream before the run gives up
FALLBACK_FPS = 30.0  # for a video whose container does not say its frame rate
