"""`chat serve`: the threads and the engine of the command line over HTTP (FastAPI on uvicorn)."""
