"""The expression class names shared by the real datasets and SynthFACE, in RAF-DB's label order."""

BASIC_CLASSES: tuple[str, ...] = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
COMPOUND_CLASSES: tuple[str, ...] = (
    "happily surprised", "happily disgusted", "sadly fearful", "sadly angry", "sadly surprised",
    "sadly disgusted", "fearfully angry", "fearfully surprised", "angrily surprised", "angrily disgusted",
    "disgustedly surprised",
)
