"""uer: pre-training and fine-tuning toolkit for NLP models assembled from named parts."""
__version__ = "0.2.0"
