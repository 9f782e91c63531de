"""sketchserve server: model runner, scheduler, engine, HTTP API, metrics."""
