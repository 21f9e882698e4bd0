"""Encoders and small models (scikit-learn-style estimators)."""
