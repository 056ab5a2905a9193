"""Serving one image at a time: the classifier, Grad-CAM, which model to serve, and the MLflow
pyfunc model.
"""
