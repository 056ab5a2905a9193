"""Data sources (Galaxy10 HDF5, synthetic generator), preprocessing cache, splits and batching."""
