"""sketchserve offline tools: load, calibrate, sketch, fine-tune, evaluate; file formats."""
