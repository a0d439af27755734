"""The HTTP entry point: FastAPI routes, schemas and error mapping."""
