"""Local web app and REST API (FastAPI); ``inharmony serve`` runs it on uvicorn."""
