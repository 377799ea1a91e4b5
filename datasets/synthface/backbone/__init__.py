"""SynthFaceCNN: the backbone pretrained on SynthFACE without expression labels (registered as ``synthface-cnn``)."""
