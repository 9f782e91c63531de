"""Task LUTs at run time: the on-disk store, validation against the base, the GPU slot pool."""
