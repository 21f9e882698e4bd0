"""The review web app: people label what the machines could not certify (see server.py)."""
